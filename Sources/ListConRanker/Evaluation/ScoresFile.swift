import Foundation

/// A problem with a scores file (the per-sample log written during evaluation); every case
/// names the file.
public enum ScoresFileError: Error, Equatable, CustomStringConvertible {
    /// The file could not be created, opened, read or written.
    case io(file: String, reason: String)
    /// Scores would overwrite a file that already holds some; resume it or remove it.
    case alreadyExists(file: String)
    /// A finished line is not a valid `{"query": …, "scores": […]}` object.
    case malformedLine(file: String, line: Int, reason: String)
    /// A line does not fit the dataset's scorable sample at its position (another dataset,
    /// another order, or a damaged file).
    case mismatch(file: String, line: Int, reason: String)
    /// The file holds more lines than this run has scorable samples.
    case tooManyLines(file: String, lines: Int, scorableSamples: Int)

    /// A message for people: what is wrong, and where.
    public var description: String {
        switch self {
        case let .io(file, reason):
            return "\(file): \(reason)"
        case let .alreadyExists(file):
            return "\(file): the scores file already holds scores; continue it with resume (--resume) or remove it"
        case let .malformedLine(file, line, reason):
            return "\(file):\(line): not a scores line: \(reason)"
        case let .mismatch(file, line, reason):
            return "\(file):\(line): the scores file does not belong to this dataset: \(reason)"
        case let .tooManyLines(file, lines, scorable):
            return "\(file): holds \(lines) scored samples but this run has only \(scorable) "
                + "(another dataset, or a smaller --limit than the run that wrote it)"
        }
    }
}

/// One line of a scores file: a scored sample's query and its scores, the positives' first,
/// then the negatives', in the data's order.
struct SampleScores: Codable, Equatable {
    var query: String
    var scores: [Float]
}

/// Reading and appending the scores file, one JSON line per scored sample.
///
/// Floats are written in their shortest round-trip form and read back by Foundation's
/// JSONDecoder as Float (parsed directly, not via Double), so a resumed run sees bit-identical
/// scores and therefore identical metrics.
enum ScoresFile {
    /// The finished lines of an existing scores file.
    struct Contents {
        /// One entry per finished line, in order.
        var entries: [SampleScores]
        /// The 1-based line number of each entry (blank lines are not entries).
        var lineNumbers: [Int]
        /// Length in bytes of the finished part; an unfinished last line starts here.
        var finishedLength: UInt64
    }

    /// Reads every finished (newline-terminated) line. A last line without a newline is the
    /// trace of an interrupted write: it is left out, to be truncated and recomputed.
    static func read(_ url: URL) throws -> Contents {
        let file = url.path
        let reader: LineReader
        do {
            reader = try LineReader(url: url)
        } catch {
            throw ScoresFileError.io(file: file, reason: "cannot open to resume: \(RerankingDataset.reason(error))")
        }
        let decoder = JSONDecoder()
        var contents = Contents(entries: [], lineNumbers: [], finishedLength: 0)
        while true {
            let nextLine: LineReader.Line?
            do {
                nextLine = try reader.next()
            } catch {
                throw ScoresFileError.io(file: file, reason: "cannot read: \(RerankingDataset.reason(error))")
            }
            guard let line = nextLine, line.isTerminated else { break }
            contents.finishedLength = line.endOffset
            if line.isBlank { continue }
            do {
                contents.entries.append(try decoder.decode(SampleScores.self, from: Data(line.bytes)))
                contents.lineNumbers.append(line.number)
            } catch {
                throw ScoresFileError.malformedLine(file: file, line: line.number, reason: describe(error))
            }
        }
        return contents
    }

    private static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case let .keyNotFound(key, _)?:
            return "missing field \"\(key.stringValue)\""
        case let .typeMismatch(_, context)?, let .valueNotFound(_, context)?:
            let field = context.codingPath.first?.stringValue ?? "the line"
            return "\"\(field)\" has the wrong type (\(context.debugDescription))"
        case let .dataCorrupted(context)?:
            return context.underlyingError.map { RerankingDataset.reason($0) } ?? context.debugDescription
        default:
            return RerankingDataset.reason(error)
        }
    }
}

/// Appends scores lines to a file, each written with one `write` call as soon as its sample is
/// scored, so a killed run loses at most the line being written.
final class ScoresFileWriter {
    private let handle: FileHandle
    private let file: String
    private let encoder: JSONEncoder

    /// Opens `url` for appending after its first `keepingLength` bytes (anything after them,
    /// an unfinished line, is cut off); a new empty file is created when `keepingLength` is nil.
    init(url: URL, keepingLength: UInt64?) throws {
        file = url.path
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            if keepingLength == nil || !FileManager.default.fileExists(atPath: url.path) {
                guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                    throw ScoresFileError.io(file: file, reason: "cannot create the scores file")
                }
            }
            handle = try FileHandle(forWritingTo: url)
            try handle.truncate(atOffset: keepingLength ?? 0)
            try handle.seekToEnd()
        } catch let error as ScoresFileError {
            throw error
        } catch {
            throw ScoresFileError.io(file: file, reason: "cannot open for writing: \(RerankingDataset.reason(error))")
        }
    }

    deinit {
        try? handle.close()
    }

    /// Writes one line.
    func append(_ entry: SampleScores) throws {
        do {
            var line = try encoder.encode(entry)
            line.append(0x0A)
            try handle.write(contentsOf: line)
        } catch {
            throw ScoresFileError.io(file: file, reason: "cannot write a scores line: \(RerankingDataset.reason(error))")
        }
    }

    /// Asks the system to put the written lines on disk.
    func synchronize() throws {
        do {
            try handle.synchronize()
        } catch {
            throw ScoresFileError.io(file: file, reason: "cannot flush: \(RerankingDataset.reason(error))")
        }
    }
}
