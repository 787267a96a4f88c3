/// Turns vectors into the little-endian bytes both backends store, and back.
///
/// One codec for SQLite and PostgreSQL so a file exported from one reads the same in the other,
/// and so the byte layout is fixed by this file rather than by the machine's endianness.
enum VectorCodec {
    /// The stored bytes of `vector` at `precision`.
    static func encode(_ vector: [Float], precision: VectorPrecision) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: vector.count * precision.bytesPerElement)
        bytes.withUnsafeMutableBytes { raw in
            switch precision {
            case .fp32:
                for (i, value) in vector.enumerated() {
                    raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self)
                }
            case .bf16:
                for (i, value) in vector.enumerated() {
                    raw.storeBytes(of: bfloat16Bits(value).littleEndian, toByteOffset: i * 2, as: UInt16.self)
                }
            }
        }
        return bytes
    }

    /// The vector stored in `bytes`, or nil when the byte count is not `dimension` elements.
    static func decode(_ bytes: UnsafeRawBufferPointer, dimension: Int, precision: VectorPrecision) -> [Float]? {
        guard bytes.count == dimension * precision.bytesPerElement else { return nil }
        return [Float](unsafeUninitializedCapacity: dimension) { out, initialised in
            switch precision {
            case .fp32:
                for i in 0..<dimension {
                    let bits = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
                    out[i] = Float(bitPattern: bits)
                }
            case .bf16:
                for i in 0..<dimension {
                    let bits = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
                    out[i] = Float(bitPattern: UInt32(bits) << 16)
                }
            }
            initialised = dimension
        }
    }

    /// The bfloat16 bits of `value`: round to nearest, ties to even, on the fp32 bit pattern.
    ///
    /// NaN is kept a (quiet) NaN: plain rounding could carry a NaN with a low payload into infinity.
    static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let roundingBias: UInt32 = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
    }
}
