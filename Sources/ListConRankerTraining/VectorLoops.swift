/// The two inner loops of the list head's attention, written on 8-wide SIMD values so that they
/// vectorise (a plain Float sum does not: its additions may not be reordered).
enum VectorLoops {
    /// `Σ a[c]·b[c]` over `count` elements: eight partial sums, then added up, then the tail.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var partial = SIMD8<Float>()
        var c = 0
        let rawA = UnsafeRawPointer(a), rawB = UnsafeRawPointer(b)
        while c + 8 <= count {
            let x = rawA.loadUnaligned(fromByteOffset: c * 4, as: SIMD8<Float>.self)
            let y = rawB.loadUnaligned(fromByteOffset: c * 4, as: SIMD8<Float>.self)
            partial += x * y
            c += 8
        }
        var sum = partial.sum()
        while c < count {
            sum += a[c] * b[c]
            c += 1
        }
        return sum
    }

    /// `y[c] += alpha · x[c]` over `count` elements (`y` and `x` do not overlap).
    @inline(__always)
    static func addScaled(_ y: UnsafeMutablePointer<Float>, _ alpha: Float, _ x: UnsafePointer<Float>, count: Int) {
        var c = 0
        let rawY = UnsafeMutableRawPointer(y), rawX = UnsafeRawPointer(x)
        let scale = SIMD8<Float>(repeating: alpha)
        while c + 8 <= count {
            let target = rawY.loadUnaligned(fromByteOffset: c * 4, as: SIMD8<Float>.self)
            let source = rawX.loadUnaligned(fromByteOffset: c * 4, as: SIMD8<Float>.self)
            rawY.storeBytes(of: target + scale * source, toByteOffset: c * 4, as: SIMD8<Float>.self)
            c += 8
        }
        while c < count {
            y[c] += alpha * x[c]
            c += 1
        }
    }
}
