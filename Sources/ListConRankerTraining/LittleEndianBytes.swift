import Foundation

/// The byte-level pieces the checkpoint writers share: little-endian fields and the table-driven
/// CRC-32 of zip entries and TensorBoard records.
extension Data {
    /// Appends `value` in little-endian byte order.
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    /// Appends Float32 values in little-endian order, as `.pt` storages and safetensors keep
    /// them. One bulk copy on little-endian hosts: element by element, a 200 MB checkpoint spent
    /// most of its save time in `Data`'s per-append bookkeeping.
    mutating func appendLittleEndian(_ values: [Float]) {
        #if _endian(little)
        values.withUnsafeBytes { append(contentsOf: $0) }
        #else
        reserveCapacity(count + values.count * 4)
        for value in values { appendLittleEndian(value.bitPattern) }
        #endif
    }
}

/// A reflected (least-significant bit first) CRC-32, one table lookup per byte. zip's CRC-32
/// and TFRecord's CRC-32C are this with different polynomials.
struct ReflectedCRC32: Sendable {
    private let table: [UInt32]

    /// `polynomial` in reflected form (0xEDB88320 for zip, 0x82F63B78 for Castagnoli).
    init(polynomial: UInt32) {
        table = (0..<256).map { n in
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 != 0 ? polynomial ^ (c >> 1) : c >> 1 }
            return c
        }
    }

    func checksum(_ data: Data) -> UInt32 {
        // Through raw pointers: `Data`'s own iterator costs several times the lookup itself.
        data.withUnsafeBytes { bytes in
            table.withUnsafeBufferPointer { table in
                var c: UInt32 = 0xFFFF_FFFF
                for byte in bytes { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
                return c ^ 0xFFFF_FFFF
            }
        }
    }
}

/// The CRC-32 of zip (IEEE 802.3, reflected polynomial 0xEDB88320).
enum CRC32 {
    private static let crc = ReflectedCRC32(polynomial: 0xEDB8_8320)

    static func checksum(_ data: Data) -> UInt32 { crc.checksum(data) }
}
