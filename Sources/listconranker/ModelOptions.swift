import ArgumentParser
import Foundation
import ListConRanker

/// The options every model-running command shares.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "A model directory (config.json, model.safetensors or pytorch_model.bin, linear_in_embedding.pt, list_transformer.pt, vocab.txt) or a hub repository id such as ByteDance/ListConRanker (owner/name@revision too).")
    var model: String

    @Option(name: .long, help: "Hub branch, tag or commit when --model is a repository id (default: main).")
    var revision: String?

    @Option(name: .long, help: "Matrix-product precision: fp32, bf16, or auto (bf16 where the CPU has native bf16).")
    var precision: String = "fp32"

    @Option(name: .long, help: "Most tokens per text, [CLS] and [SEP] included; longer texts are truncated.")
    var maxLength: Int = 512

    @Option(name: .long, help: "Most tokens the encoder takes at once; lower bounds memory on long lists.")
    var encoderBatchTokens: Int = RerankerOptions().encoderBatchTokens

    func validate() throws {
        guard ["fp32", "bf16", "auto"].contains(precision) else {
            throw ValidationError("--precision must be fp32, bf16 or auto, not \(precision)")
        }
        guard maxLength >= 2 else { throw ValidationError("--max-length must be at least 2") }
        guard encoderBatchTokens >= 1 else { throw ValidationError("--encoder-batch-tokens must be at least 1") }
    }

    /// The precision to run with (`auto` resolved for this CPU).
    var resolvedPrecision: Precision {
        precision == "auto" ? .automatic : (Precision(rawValue: precision) ?? .fp32)
    }

    /// The local model directory: `--model` itself, or its snapshot in the Hugging Face cache
    /// (downloaded first when needed).
    func directory() throws -> URL {
        try ModelLocation.directory(model, revision: revision)
    }

    func makeReranker() throws -> Reranker {
        try Reranker(modelDirectory: directory(),
                     options: RerankerOptions(precision: resolvedPrecision, maxLength: maxLength,
                                                encoderBatchTokens: encoderBatchTokens))
    }
}

/// Where `--model` points: a local path as is, a hub repository id through the cache.
enum ModelLocation {
    static func directory(_ model: String, revision: String?) throws -> URL {
        do {
            return try HubModelResolver().resolveBlocking(model, revision: revision)
        } catch let error as HubError {
            throw InputError(error.description)
        }
    }
}

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

    /// One `{"query": …, "passages": […]}` object per non-blank line of `path`.
    static func queryLists(_ path: String) throws -> [(query: String, passages: [String])] {
        struct Line: Decodable { let query: String; let passages: [String] }
        var lists: [(String, [String])] = []
        for (index, line) in try lines(path).enumerated() where !line.allSatisfy(\.isWhitespace) {
            do {
                let decoded = try JSONDecoder().decode(Line.self, from: Data(line.utf8))
                lists.append((decoded.query, decoded.passages))
            } catch {
                throw InputError("\(path):\(index + 1): expected {\"query\": string, \"passages\": [string]} (\(describe(error)))")
            }
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

/// Writes one JSON value per line to standard output.
enum JSONLineOutput {
    static func write<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        var data = try encoder.encode(value)
        data.append(UInt8(ascii: "\n"))
        FileHandle.standardOutput.write(data)
    }
}
