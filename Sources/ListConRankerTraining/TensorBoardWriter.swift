import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `--tensorboard DIR`: scalar summaries in TensorBoard's event-file format, written by hand so
/// the project needs no protobuf package. The file is named as TensorFlow and PyTorch name theirs,
/// `events.out.tfevents.<seconds>.<host>.<pid>.<counter>`, and created exclusively: a quick
/// `--resume` (same second, same host) or a second writer in the same process starts a new file
/// beside the old one instead of truncating it, and TensorBoard reads both as one run. The file is
/// a sequence of TFRecords (`uint64 length`, `uint32 masked CRC-32C of the length`, the bytes,
/// `uint32 masked CRC-32C of the bytes`, all little-endian), each an `Event` protobuf:
/// `wall_time` (field 1, double), `step` (2, int64), then `file_version` (3, string) in the first
/// record or `summary` (5, message) holding `Summary.Value { tag (1, string), simple_value (2, float) }`.
public final class TensorBoardWriter {
    private let handle: FileHandle
    /// The event file.
    public let url: URL

    /// The process's writers so far (the `<counter>` of the name), as TensorFlow's global uid.
    private static let counter = WriterCounter()

    /// Creates a new event file in `directory` and writes its version record.
    public init(directory: URL) throws {
        let host = ProcessInfo.processInfo.hostName.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }
        let pid = ProcessInfo.processInfo.processIdentifier
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.writeFailed("\(directory.path): \(error.localizedDescription)")
        }
        // O_EXCL: an existing file (another process reusing this pid on the same second) is
        // never truncated; the next counter value is tried instead.
        var opened: (URL, Int32)?
        for _ in 0..<1000 {
            let name = "events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(host.isEmpty ? "host" : host)"
                + ".\(pid).\(Self.counter.next())"
            let candidate = directory.appendingPathComponent(name)
            let descriptor = open(candidate.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
            if descriptor >= 0 {
                opened = (candidate, descriptor)
                break
            }
            guard errno == EEXIST else {
                throw TrainingError.writeFailed("\(candidate.path): \(String(cString: strerror(errno)))")
            }
        }
        guard let (url, descriptor) = opened else {
            throw TrainingError.writeFailed("\(directory.path): no free event file name")
        }
        self.url = url
        handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
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

/// A counter shared by a process's writers.
private final class WriterCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value - 1
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
