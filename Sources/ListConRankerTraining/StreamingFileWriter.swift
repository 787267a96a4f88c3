import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file through a small buffer, for checkpoints that must not be built in memory first
/// (BERT-large's training state is 4 GB: a whole `Data` of it doubled the run's memory while it
/// saved). Bytes go to a temporary file beside the target, which ``commit()`` syncs and renames
/// into place, so a reader sees the old file or the new one, never half of one. A writer dropped
/// without ``commit()`` removes its temporary file.
final class StreamingFileWriter {
    /// The file written on ``commit()``.
    let url: URL
    private let temporary: URL
    private let handle: FileHandle
    private var buffer = Data()
    private var committed = false
    /// Bytes held before they are written: the writer's memory, whatever the file's size.
    static let bufferBytes = 1 << 20

    /// Starts a temporary file in `url`'s folder (which must exist).
    init(url: URL) throws {
        self.url = url
        temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw TrainingError.writeFailed("\(temporary.path): cannot create")
        }
        do {
            handle = try FileHandle(forWritingTo: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw TrainingError.writeFailed("\(temporary.path): \(error.localizedDescription)")
        }
        buffer.reserveCapacity(Self.bufferBytes)
    }

    deinit {
        guard !committed else { return }
        try? handle.close()
        try? FileManager.default.removeItem(at: temporary)
    }

    /// Appends `bytes`.
    func write(_ bytes: Data) throws {
        buffer.append(bytes)
        if buffer.count >= Self.bufferBytes { try flush() }
    }

    /// Appends Float32 values in little-endian order, a buffer's worth at a time.
    func write(_ values: ArraySlice<Float>) throws {
        var start = values.startIndex
        let perChunk = Self.bufferBytes / 4
        while start < values.endIndex {
            let end = min(start + perChunk, values.endIndex)
            values[start..<end].withUnsafeBufferPointer { part in
                #if _endian(little)
                buffer.append(part)   // the elements' bytes
                #else
                for value in part { buffer.appendLittleEndian(value.bitPattern) }
                #endif
            }
            if buffer.count >= Self.bufferBytes { try flush() }
            start = end
        }
    }

    /// Appends Float32 values in little-endian order.
    func write(_ values: [Float]) throws { try write(values[...]) }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        do {
            try handle.write(contentsOf: buffer)
        } catch {
            throw TrainingError.writeFailed("\(temporary.path): \(error.localizedDescription)")
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes what is buffered, syncs, and renames the file into place.
    func commit() throws {
        try flush()
        do {
            try handle.synchronize()
            try handle.close()
            if rename(temporary.path, url.path) != 0 {
                throw TrainingError.writeFailed("\(url.path): cannot rename into place: \(String(cString: strerror(errno)))")
            }
        } catch let error as TrainingError {
            throw error
        } catch {
            throw TrainingError.writeFailed("\(url.path): \(error.localizedDescription)")
        }
        committed = true
    }
}
