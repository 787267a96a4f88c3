import Foundation

/// Reads a file one line at a time in fixed-size chunks, so a large JSON-lines file is
/// never held in memory whole (only the current chunk and the current line are).
///
/// Lines end at `\n`; a `\r` before it is dropped. A final line without `\n` is still
/// returned, marked ``Line/isTerminated`` false, so callers that append to the file (the
/// scores file on resume) can tell a line cut short by a kill from a finished one.
final class LineReader {
    /// One line of the file, without its line ending.
    struct Line {
        /// 1-based line number.
        let number: Int
        /// The line's bytes, without `\r\n` or `\n`.
        let bytes: [UInt8]
        /// Byte offset in the file just past this line (and its line ending).
        let endOffset: UInt64
        /// Whether the line ended with `\n` (false only for a last line cut short).
        let isTerminated: Bool

        /// Whether the line holds nothing but spaces, tabs or a carriage return.
        var isBlank: Bool {
            bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
        }
    }

    private let handle: FileHandle
    private let chunkSize: Int
    private var buffer: [UInt8] = []
    /// Start of the unread part of `buffer`.
    private var bufferStart = 0
    private var atEndOfFile = false
    private var lineNumber = 0
    private var consumedOffset: UInt64 = 0

    /// Opens `url` for reading. Throws the system's error when the file cannot be opened.
    init(url: URL, chunkSize: Int = 1 << 20) throws {
        handle = try FileHandle(forReadingFrom: url)
        self.chunkSize = max(chunkSize, 1)
    }

    deinit {
        try? handle.close()
    }

    /// The next line, or nil at the end of the file.
    func next() throws -> Line? {
        var searchFrom = bufferStart
        while true {
            if let newline = buffer[searchFrom...].firstIndex(of: 0x0A) {
                return take(upTo: newline, terminated: true)
            }
            if atEndOfFile {
                return bufferStart < buffer.count ? take(upTo: buffer.count, terminated: false) : nil
            }
            // Bytes already searched need no second look once the next chunk arrives.
            let searchedCount = buffer.count - bufferStart
            try fill()
            searchFrom = bufferStart + searchedCount
        }
    }

    /// Reads the next chunk, first dropping the bytes already handed out.
    private func fill() throws {
        if bufferStart > 0 {
            buffer.removeFirst(bufferStart)
            bufferStart = 0
        }
        let chunk = try handle.read(upToCount: chunkSize) ?? Data()
        if chunk.isEmpty {
            atEndOfFile = true
        } else {
            buffer.append(contentsOf: chunk)
        }
    }

    private func take(upTo end: Int, terminated: Bool) -> Line {
        var contentEnd = end
        if terminated && contentEnd > bufferStart && buffer[contentEnd - 1] == 0x0D {
            contentEnd -= 1
        }
        let bytes = Array(buffer[bufferStart..<contentEnd])
        let consumed = (terminated ? end + 1 : end) - bufferStart
        consumedOffset += UInt64(consumed)
        bufferStart += consumed
        lineNumber += 1
        return Line(number: lineNumber, bytes: bytes, endOffset: consumedOffset, isTerminated: terminated)
    }
}
