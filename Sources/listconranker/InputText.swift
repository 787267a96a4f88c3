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
        var lists: [(String, [String])] = []
        for (index, line) in try lines(path).enumerated() where !line.allSatisfy(\.isWhitespace) {
            let decoded: Line
            do {
                decoded = try JSONDecoder().decode(Line.self, from: Data(line.utf8))
            } catch {
                throw InputError("\(path):\(index + 1): expected {\"query\": string, \"passages\": [string]} (\(describe(error)))")
            }
            guard !decoded.query.allSatisfy(\.isWhitespace) else {
                throw InputError("\(path):\(index + 1): the query is empty")
            }
            lists.append((decoded.query, decoded.passages))
        }
        return lists
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
