/// The random draws of a training run, each from its own ``SeededGenerator`` whose seed is a
/// hash of the run's seed and a counter (stream, epoch, step, …) — a counter-based design.
///
/// Why: a resumed run must draw exactly what the uninterrupted run would have drawn. With one
/// long-lived generator that means saving its state after every step; with counters, the
/// state *is* the step number (saved anyway), and any step's draws can be recreated alone.
/// The Python reference (`tools/reference/train_stage1_reference.py`) repeats the same rule,
/// so both trainers see the same lists.
public enum RandomStreams {
    /// What a stream is for (mixed into the seed so streams never share draws).
    public enum Purpose: UInt64, Sendable {
        /// The order of the queries in an epoch.
        case epochOrder = 1
        /// The passages sampled for one query in one epoch.
        case listSampling = 2
        /// Dropout masks of one micro-batch of one step.
        case dropout = 3
    }

    /// The seed of stream `purpose` at counters `counters` in the run seeded by `seed`:
    /// SplitMix64's finaliser applied to each part in turn.
    public static func seed(_ seed: UInt64, _ purpose: Purpose, _ counters: UInt64...) -> UInt64 {
        derived(seed, purpose, counters)
    }

    static func derived(_ seed: UInt64, _ purpose: Purpose, _ counters: [UInt64]) -> UInt64 {
        var h = mix(seed ^ 0x5851_F42D_4C95_7F2D)
        h = mix(h ^ purpose.rawValue)
        for counter in counters { h = mix(h ^ counter) }
        return h
    }

    /// A generator for stream `purpose` at `counters`.
    public static func generator(_ seed: UInt64, _ purpose: Purpose, _ counters: UInt64...) -> SeededGenerator {
        SeededGenerator(seed: derived(seed, purpose, counters))
    }

    /// SplitMix64's output function (an invertible 64-bit mix).
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Fisher–Yates shuffle with `next() % (i + 1)` (the modulo bias is below 2⁻⁴⁰ for any list
    /// here), written out so the Python reference can repeat it draw for draw.
    public static func shuffle<T>(_ elements: inout [T], using generator: inout SeededGenerator) {
        guard elements.count > 1 else { return }
        for i in stride(from: elements.count - 1, through: 1, by: -1) {
            let j = Int(generator.next() % UInt64(i + 1))
            elements.swapAt(i, j)
        }
    }
}
