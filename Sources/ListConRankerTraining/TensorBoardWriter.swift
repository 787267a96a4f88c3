import Foundation

/// `--tensorboard DIR`: scalar summaries in TensorBoard's event-file format, written by hand so
/// the project needs no protobuf package. The file `events.out.tfevents.<seconds>.<host>` is a
/// sequence of TFRecords (`uint64 length`, `uint32 masked CRC-32C of the length`, the bytes,
/// `uint32 masked CRC-32C of the bytes`, all little-endian), each an `Event` protobuf:
/// `wall_time` (field 1, double), `step` (2, int64), then `file_version` (3, string) in the first
/// record or `summary` (5, message) holding `Summary.Value { tag (1, string), simple_value (2, float) }`.
public final class TensorBoardWriter {
    private let handle: FileHandle
    /// The event file.
    public let url: URL

    /// Creates a new event file in `directory` and writes its version record.
    public init(directory: URL) throws {
        let host = ProcessInfo.processInfo.hostName.filter { $0.isLetter || $0.isNumber || $0 == "-" }
        let seconds = Int(Date().timeIntervalSince1970)
        url = directory.appendingPathComponent("events.out.tfevents.\(seconds).\(host.isEmpty ? "host" : host)")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: url.path, contents: nil)
            handle = try FileHandle(forWritingTo: url)
        } catch {
            throw TrainingError.writeFailed("\(url.path): \(error.localizedDescription)")
        }
        var event = Data()
        Self.double(&event, field: 1, Date().timeIntervalSince1970)
        Self.bytes(&event, field: 3, Data("brain.Event:2".utf8))
        try record(event)
    }

    deinit { try? handle.close() }

    /// Writes one scalar `value` under `tag` at `step`.
    public func scalar(_ tag: String, _ value: Float, step: Int) throws {
        var summaryValue = Data()
        Self.bytes(&summaryValue, field: 1, Data(tag.utf8))
        Self.key(&summaryValue, field: 2, wireType: 5)
        summaryValue.appendLittleEndian(value.bitPattern)
        var summary = Data()
        Self.bytes(&summary, field: 1, summaryValue)
        var event = Data()
        Self.double(&event, field: 1, Date().timeIntervalSince1970)
        Self.key(&event, field: 2, wireType: 0)
        Self.varint(&event, UInt64(bitPattern: Int64(step)))
        Self.bytes(&event, field: 5, summary)
        try record(event)
    }

    /// Frames `payload` as a TFRecord and appends it.
    private func record(_ payload: Data) throws {
        var frame = Data()
        var length = Data()
        length.appendLittleEndian(UInt64(payload.count))
        frame.append(length)
        frame.appendLittleEndian(CRC32C.masked(length))
        frame.append(payload)
        frame.appendLittleEndian(CRC32C.masked(payload))
        do {
            try handle.write(contentsOf: frame)
        } catch {
            throw TrainingError.writeFailed("\(url.path): \(error.localizedDescription)")
        }
    }

    // Protobuf wire format: a key is (field << 3 | wire type) as a varint.
    static func key(_ data: inout Data, field: Int, wireType: UInt64) { varint(&data, UInt64(field) << 3 | wireType) }

    static func varint(_ data: inout Data, _ value: UInt64) {
        var v = value
        while v >= 0x80 {
            data.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        data.append(UInt8(v))
    }

    static func double(_ data: inout Data, field: Int, _ value: Double) {
        key(&data, field: field, wireType: 1)
        data.appendLittleEndian(value.bitPattern)
    }

    static func bytes(_ data: inout Data, field: Int, _ value: Data) {
        key(&data, field: field, wireType: 2)
        varint(&data, UInt64(value.count))
        data.append(value)
    }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) and TFRecord's mask of it.
enum CRC32C {
    private static let crc = ReflectedCRC32(polynomial: 0x82F6_3B78)

    static func checksum(_ data: Data) -> UInt32 { crc.checksum(data) }

    /// `((crc >> 15) | (crc << 17)) + 0xa282ead8`, as TensorFlow's `MaskedCrc`.
    static func masked(_ data: Data) -> UInt32 {
        let crc = checksum(data)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}
