import Foundation

/// A small deterministic random generator (SplitMix64) for initialisation and dropout, so a
/// run repeats exactly from its seed on every machine (Swift's system generator cannot be seeded).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1) from the top 53 bits.
    mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// A uniform value in [-bound, bound).
    mutating func uniform(bound: Double) -> Float { Float((2 * unit() - 1) * bound) }

    /// A standard normal value (Box–Muller; one draw per value keeps the sequence simple).
    mutating func normal() -> Float {
        let u1 = 1 - unit()    // (0, 1]: log stays finite
        let u2 = unit()
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}
