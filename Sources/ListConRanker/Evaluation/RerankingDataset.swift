import Foundation

/// One query of a reranking dataset with its relevant and irrelevant candidates.
public struct RerankingSample: Sendable, Equatable {
    /// The query text.
    public var query: String
    /// Relevant passages, in the data's order.
    public var positives: [String]
    /// Irrelevant passages, in the data's order.
    public var negatives: [String]
    /// The 1-based line of the dataset file this sample came from (0 when built in code).
    public var line: Int

    /// A sample; `line` names its place in a file for error messages.
    public init(query: String, positives: [String], negatives: [String], line: Int = 0) {
        self.query = query
        self.positives = positives
        self.negatives = negatives
        self.line = line
    }

    /// The list the scorer sees: the positives, then the negatives, in the data's order.
    public var passages: [String] { positives + negatives }

    /// For each of ``passages``, whether it is a positive.
    public var relevance: [Bool] {
        Array(repeating: true, count: positives.count) + Array(repeating: false, count: negatives.count)
    }

    /// Whether the sample can be evaluated: average precision and reciprocal rank need at
    /// least one positive and one negative (as in MTEB, other samples are skipped).
    public var isScorable: Bool { !positives.isEmpty && !negatives.isEmpty }
}

/// A problem with a reranking dataset file; every case names the file and, where there is
/// one, the 1-based line.
public enum RerankingDatasetError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened or read.
    case unreadable(file: String, reason: String)
    /// The file has no sample (it is empty or holds only blank lines).
    case empty(file: String)
    /// A line is not valid JSON, or not a JSON object.
    case malformedLine(file: String, line: Int, reason: String)
    /// A line lacks one of the fields `query`, `positive`, `negative`.
    case missingField(file: String, line: Int, field: String)
    /// A field has the wrong JSON type (`field` may name an element, as `positive[3]`).
    case wrongType(file: String, line: Int, field: String, expected: String)
    /// The requested sample limit is not a positive number.
    case invalidLimit(Int)

    /// A message for people: what is wrong, and where.
    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "\(file): cannot read the dataset: \(reason)"
        case let .empty(file):
            return "\(file): the dataset has no samples (expected one JSON object per line: "
                + #"{"query": str, "positive": [str], "negative": [str]})"#
        case let .malformedLine(file, line, reason):
            return "\(file):\(line): not a JSON object: \(reason)"
        case let .missingField(file, line, field):
            return "\(file):\(line): missing field \"\(field)\""
        case let .wrongType(file, line, field, expected):
            return "\(file):\(line): field \"\(field)\" must be \(expected)"
        case let .invalidLimit(limit):
            return "sample limit \(limit) must be at least 1"
        }
    }
}

/// A C-MTEB reranking dataset: JSON lines `{"query": str, "positive": [str], "negative": [str]}`.
///
/// Blank lines are skipped; any other line that is not such an object is an error naming its
/// line. The file is read in chunks and parsed line by line, so only the parsed samples
/// stay in memory.
public struct RerankingDataset: Sendable {
    /// The samples, in file order.
    public var samples: [RerankingSample]
    /// The file the samples came from (nil when built in code).
    public var source: URL?

    /// A dataset from samples built in code.
    public init(samples: [RerankingSample], source: URL? = nil) {
        self.samples = samples
        self.source = source
    }

    /// Reads a JSON-lines dataset.
    ///
    /// - Parameters:
    ///   - url: the `.jsonl` file.
    ///   - limit: read only the first `limit` samples (blank lines do not count).
    /// - Throws: ``RerankingDatasetError`` naming the file and line of the first problem.
    public init(contentsOf url: URL, limit: Int? = nil) throws {
        if let limit, limit < 1 { throw RerankingDatasetError.invalidLimit(limit) }
        let file = url.path
        let reader: LineReader
        do {
            reader = try LineReader(url: url)
        } catch {
            throw RerankingDatasetError.unreadable(file: file, reason: Self.reason(error))
        }
        let decoder = JSONDecoder()
        var samples: [RerankingSample] = []
        while limit.map({ samples.count < $0 }) ?? true {
            let nextLine: LineReader.Line?
            do {
                nextLine = try reader.next()
            } catch {
                throw RerankingDatasetError.unreadable(file: file, reason: Self.reason(error))
            }
            guard let line = nextLine else { break }
            var bytes = line.bytes[...]
            if line.number == 1 && bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
                bytes = bytes.dropFirst(3)  // A UTF-8 byte-order mark, as some editors write.
            }
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            samples.append(try Self.decodeSample(Data(bytes), decoder: decoder, file: file, line: line.number))
        }
        guard !samples.isEmpty else { throw RerankingDatasetError.empty(file: file) }
        self.samples = samples
        self.source = url
    }

    /// Samples with at least one positive and one negative.
    public var scorableSampleCount: Int { samples.reduce(0) { $0 + ($1.isScorable ? 1 : 0) } }

    /// Total number of passages over all samples.
    public var passageCount: Int { samples.reduce(0) { $0 + $1.positives.count + $1.negatives.count } }

    /// The wire form of one line; decoding it field by field lets errors name the field.
    private struct Row: Decodable {
        let query: String
        let positive: [String]
        let negative: [String]
    }

    private static func decodeSample(_ data: Data, decoder: JSONDecoder, file: String, line: Int) throws -> RerankingSample {
        do {
            let row = try decoder.decode(Row.self, from: data)
            return RerankingSample(query: row.query, positives: row.positive, negatives: row.negative, line: line)
        } catch let error as DecodingError {
            throw translate(error, file: file, line: line)
        } catch {
            throw RerankingDatasetError.malformedLine(file: file, line: line, reason: reason(error))
        }
    }

    /// Turns Foundation's decoding error into one that names the field in the data's terms.
    private static func translate(_ error: DecodingError, file: String, line: Int) -> RerankingDatasetError {
        switch error {
        case let .keyNotFound(key, context) where context.codingPath.isEmpty:
            return .missingField(file: file, line: line, field: key.stringValue)
        case let .typeMismatch(_, context), let .valueNotFound(_, context), let .keyNotFound(_, context):
            guard let field = context.codingPath.first else {
                // The line is valid JSON but not an object (an array, a string, …).
                return .malformedLine(file: file, line: line, reason: "expected an object, found another JSON value")
            }
            let path = fieldPath(context.codingPath)
            if field.stringValue == "query" || context.codingPath.count > 1 {
                return .wrongType(file: file, line: line, field: path, expected: "a string")
            }
            return .wrongType(file: file, line: line, field: path, expected: "an array of strings")
        case let .dataCorrupted(context):
            let underlying = context.underlyingError.map { reason($0) } ?? context.debugDescription
            return .malformedLine(file: file, line: line, reason: underlying)
        @unknown default:
            return .malformedLine(file: file, line: line, reason: "\(error)")
        }
    }

    /// `positive[3]` for the coding path (positive, index 3).
    private static func fieldPath(_ codingPath: [any CodingKey]) -> String {
        codingPath.reduce(into: "") { path, key in
            if let index = key.intValue {
                path += "[\(index)]"
            } else {
                path += path.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
    }

    static func reason(_ error: any Error) -> String {
        (error as NSError).localizedDescription
    }
}
