import ListConRankerTensor

/// Bulk conversions from the byte layouts checkpoints store to Float32 and BFloat16.
///
/// These run over whole tensors (up to ~300M elements), so each is a plain loop over raw
/// pointers that the compiler vectorises: no per-element closures, and no calls to a
/// software half-precision routine (baseline x86-64 has no F16C).
/// Source pointers may be unaligned (safetensors does not align its data area).
enum ElementConversion {
    /// Converts `count` contiguous elements of `dtype` at `source` to Float32 at `destination`.
    static func toFloat32(_ source: UnsafeRawPointer, _ dtype: DType, count: Int,
                          into destination: UnsafeMutablePointer<Float>) {
        switch dtype {
        case .float32:
            UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * 4)
        case .bfloat16:
            for i in 0..<count {
                let bits = source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                destination[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        case .float16:
            for i in 0..<count {
                let bits = source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                destination[i] = halfToFloat(bits)
            }
        }
    }

    /// Converts `count` elements of `dtype`, `stride` elements apart, to Float32.
    static func toFloat32(_ source: UnsafeRawPointer, _ dtype: DType, count: Int, stride: Int,
                          into destination: UnsafeMutablePointer<Float>) {
        let step = stride * dtype.byteSize
        switch dtype {
        case .float32:
            for i in 0..<count {
                destination[i] = source.loadUnaligned(fromByteOffset: step * i, as: Float.self)
            }
        case .bfloat16:
            for i in 0..<count {
                let bits = source.loadUnaligned(fromByteOffset: step * i, as: UInt16.self)
                destination[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        case .float16:
            for i in 0..<count {
                destination[i] = halfToFloat(source.loadUnaligned(fromByteOffset: step * i, as: UInt16.self))
            }
        }
    }

    /// Converts `count` elements of `dtype`, `stride` elements apart, to BFloat16 bits
    /// (BF16 copied; F32 and F16 rounded to nearest even).
    static func toBFloat16(_ source: UnsafeRawPointer, _ dtype: DType, count: Int, stride: Int,
                           into destination: UnsafeMutablePointer<UInt16>) {
        let step = stride * dtype.byteSize
        switch dtype {
        case .bfloat16:
            if stride == 1 {
                UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * 2)
            } else {
                for i in 0..<count {
                    destination[i] = source.loadUnaligned(fromByteOffset: step * i, as: UInt16.self)
                }
            }
        case .float32:
            for i in 0..<count {
                destination[i] = floatToBFloat16(source.loadUnaligned(fromByteOffset: step * i, as: UInt32.self))
            }
        case .float16:
            for i in 0..<count {
                let value = halfToFloat(source.loadUnaligned(fromByteOffset: step * i, as: UInt16.self))
                destination[i] = floatToBFloat16(value.bitPattern)
            }
        }
    }

    /// IEEE half bits → Float32, exactly (subnormals, infinities and NaN payloads included).
    ///
    /// Branch-free so the loops above vectorise: move exponent and mantissa into place and
    /// rebias; infinities/NaN get the extra bias to reach exponent 255; zero and subnormals
    /// are renormalised by a float subtraction.
    @inline(__always)
    static func halfToFloat(_ half: UInt16) -> Float {
        let h = UInt32(half)
        let shiftedExponentMask: UInt32 = 0x7C00 << 13
        var bits = (h & 0x7FFF) << 13
        let exponent = bits & shiftedExponentMask
        bits &+= (127 - 15) << 23
        let isSpecial = exponent == shiftedExponentMask
        let isSmall = exponent == 0
        bits &+= isSpecial ? (128 - 16) << 23 : 0
        // Zero/subnormal: as a normal number with exponent 1 (bias 113), minus 2^-14.
        let renormalised = Float(bitPattern: bits &+ (1 << 23)) - Float(bitPattern: 113 << 23)
        let magnitude = isSmall ? renormalised.bitPattern : bits
        return Float(bitPattern: magnitude | ((h & 0x8000) << 16))
    }

    /// Float32 bits → BFloat16 bits, rounding to nearest even; NaN stays a (quiet) NaN.
    @inline(__always)
    static func floatToBFloat16(_ bits: UInt32) -> UInt16 {
        let isNaN = (bits & 0x7FFF_FFFF) > 0x7F80_0000
        let rounded = UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
        return isNaN ? UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 : rounded
    }
}
