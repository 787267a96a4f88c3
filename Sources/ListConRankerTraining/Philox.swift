/// Philox-4×32-10 (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3",
/// SC 2011; the constants of Random123's `philox4x32`): a counter-based generator, so element `i`
/// of stream `s` under seed `k` is a pure function of the three. The list head's dropout masks
/// come from it on every device (the GPU's `dropout_mask` kernel computes the same function), so a
/// run's masks do not depend on where it trains.
enum Philox {
    /// The four words of block `counter` under `key`.
    static func block(_ counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        var (c0, c1, c2, c3) = counter
        var (k0, k1) = key
        for _ in 0..<10 {
            let p0 = UInt64(0xD251_1F53) * UInt64(c0), p1 = UInt64(0xCD9E_8D57) * UInt64(c2)
            (c0, c1, c2, c3) = (UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0, UInt32(truncatingIfNeeded: p1),
                                UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1, UInt32(truncatingIfNeeded: p0))
            k0 &+= 0x9E37_79B9
            k1 &+= 0xBB67_AE85
        }
        return (c0, c1, c2, c3)
    }

    /// The uniform in [0, 1) of element `i` of `stream` under `seed`: word `i % 4` of block
    /// (`i / 4`, `stream`), its top 24 bits.
    static func unit(seed: UInt64, stream: UInt64, element i: UInt64) -> Float {
        let words = block((UInt32(truncatingIfNeeded: i >> 2), UInt32(truncatingIfNeeded: i >> 34),
                           UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32)),
                          key: (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
        return Float(word(words, Int(i & 3)) >> 8) * 0x1p-24
    }

    /// Word `k` (0–3) of a block.
    @inline(__always)
    static func word(_ words: (UInt32, UInt32, UInt32, UInt32), _ k: Int) -> UInt32 {
        switch k {
        case 0: return words.0
        case 1: return words.1
        case 2: return words.2
        default: return words.3
        }
    }

    /// Fills `mask[0 ..< count]` with dropout mask `stream` of `seed`: 1/(1 − p) where the
    /// element's uniform is at least p, else 0 (one block of four words per four elements).
    static func dropoutMask(_ mask: UnsafeMutablePointer<Float>, count: Int, probability p: Float, seed: UInt64,
                            stream: UInt64) {
        let scale = 1 / (1 - p)
        let key = (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
        let s = (UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32))
        ParallelLoop.shares((count + 3) / 4, minimumPerShare: 4096) { blocks in
            for b in blocks {
                let words = block((UInt32(truncatingIfNeeded: b), UInt32(truncatingIfNeeded: b >> 32), s.0, s.1), key: key)
                for k in 0..<min(4, count - 4 * b) {
                    mask[4 * b + k] = Float(word(words, k) >> 8) * 0x1p-24 >= p ? scale : 0
                }
            }
        }
    }
}
