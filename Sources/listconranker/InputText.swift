import Foundation
import ListConRanker

/// Bad input found while running (not a usage mistake): printed as `Error: …` without usage.
struct InputError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Text read from a file or standard input, checked as UTF-8 line by line.
enum InputText {
    /// The lines of `path` (or standard input when nil); errors name the line that is not UTF-8.
    static func lines(_ path: String?) throws -> [String] {
        if let path {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw InputError("cannot read \(path): no such file or not readable")
            }
            return try TextLines.split([UInt8](data), source: path)
        }
        return try TextLines.split([UInt8](FileHandle.standardInput.readDataToEndOfFile()), source: "<stdin>")
    }

    /// One `{"query": …, "passages": […]}` object per non-blank line of `path`. Errors name the
    /// file and line, which the model's own checks (run later, list by list) cannot.
    static func queryLists(_ path: String) throws -> [(query: String, passages: [String])] {
        struct Line: Decodable { let query: String; let passages: [String] }
        return try jsonLines(path, expected: "{\"query\": string, \"passages\": [string]}") { (line: Line, place) in
            guard !line.query.allSatisfy(\.isWhitespace) else { throw InputError("\(place): the query is empty") }
            return (line.query, line.passages)
        }
    }

    /// One `T` per non-blank line of `path`, each turned into a result by `convert`, which gets
    /// the line's `file:line` for its messages; a line that does not decode names `expected`.
    static func jsonLines<T: Decodable, R>(_ path: String, expected: String,
                                          _ convert: (T, String) throws -> R) throws -> [R] {
        var results: [R] = []
        for (index, line) in try lines(path).enumerated() where !line.allSatisfy(\.isWhitespace) {
            let place = "\(path):\(index + 1)"
            let decoded: T
            do {
                decoded = try JSONDecoder().decode(T.self, from: Data(line.utf8))
            } catch {
                throw InputError("\(place): expected \(expected) (\(describe(error)))")
            }
            results.append(try convert(decoded, place))
        }
        return results
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing field \"\(key.stringValue)\""
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "wrong type at \"\(path)\""
        case DecodingError.dataCorrupted: return "not valid JSON"
        default: return "\(error)"
        }
    }
}
