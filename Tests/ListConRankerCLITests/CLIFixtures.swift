import Foundation

/// The library tests' committed fixtures, which the CLI tests share rather than copy.
enum CLIFixtures {
    /// `Tests/ListConRankerTests/Fixtures`.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ListConRankerTests/Fixtures", isDirectory: true)

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    /// A tiny random ListConRanker (hidden size 16) that loads in milliseconds.
    static let tinyModel = path("tiny-model")

    /// m3e-small, a real BERT checkpoint unpacked by `tools/fetch-test-models.sh` into `.models/`.
    static let m3eSmall = root.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".models/m3e-small").path

    /// PyTorch's outputs for `tiny-model` (tools/reference), the subset the CLI tests read.
    struct ModelGoldens: Decodable {
        /// Each list is the query followed by its passages.
        let lists: [[String]]
        /// Mean-pooled encoder outputs, one per text of `lists` in order.
        let pooled: [[Float]]
        let logits: [[Float]]
        let scores_each_list_alone: [[Float]]
        /// Scores of `lists[0]` with texts cut to 16 tokens.
        let scores_max_length_16: [Float]
        /// A list of more than 20 passages, and its iterative and conventional scores.
        let iterative_list: [String]
        let iterative_scores: [Float]
        let iterative_conventional_scores: [Float]
    }

    static func modelGoldens() throws -> ModelGoldens {
        let data = try Data(contentsOf: root.appendingPathComponent("model-goldens.json"))
        return try JSONDecoder().decode([String: ModelGoldens].self, from: data)["tiny-model"]
            .orThrow("model-goldens.json has no tiny-model entry")
    }

    /// The small evaluation set (60 samples, 5 without a positive or negative).
    static let evaluationData = path("evaluation/fixture_dataset.jsonl")

    /// PyTorch + scikit-learn metrics for `tiny-model` on `evaluationData`, per mode.
    struct EvaluationGolden: Decodable {
        let map: Double, mrr_at_1: Double, mrr_at_5: Double, mrr_at_10: Double
        let scored: Int, skipped: Int
    }

    static func evaluationGoldens() throws -> [String: EvaluationGolden] {
        let data = try Data(contentsOf: root.appendingPathComponent("evaluation/fixture_dataset_model_goldens.json"))
        return try JSONDecoder().decode([String: EvaluationGolden].self, from: data)
    }

    /// transformers' token ids for `tokenizer/corpus.jsonl` (one JSON string per line) with the
    /// `tokenizer/zh-lower` tokenizer: `(text, ids)` pairs in corpus order.
    static func tokenizerGoldens() throws -> [(text: String, ids: [Int])] {
        let corpus = try String(contentsOfFile: path("tokenizer/corpus.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONDecoder().decode(String.self, from: Data($0.utf8)) }
        let ids = try String(contentsOfFile: path("tokenizer/zh-lower.ids"), encoding: .utf8)
            .split(separator: "\n").map { try JSONDecoder().decode([Int].self, from: Data($0.utf8)) }
        guard corpus.count == ids.count else { throw FixtureError("corpus and zh-lower.ids differ in length") }
        return Array(zip(corpus, ids))
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Optional {
    func orThrow(_ message: String) throws -> Wrapped {
        guard let self else { throw FixtureError(message) }
        return self
    }
}

/// Whether two score lists agree to `tolerance` element by element.
func close(_ a: [Float], _ b: [Float], tolerance: Float = 1e-4) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance }
}

/// Decodes one JSON value from a line of output.
func decode<T: Decodable>(_ type: T.Type, _ line: String) throws -> T {
    try JSONDecoder().decode(type, from: Data(line.utf8))
}

/// A `{"query": …, "passages": […]}` line as `rerank --input` and `score --input` read it.
func queryLine(_ list: [String]) throws -> String {
    struct Line: Encodable { let query: String; let passages: [String] }
    return String(decoding: try JSONEncoder().encode(Line(query: list[0], passages: Array(list.dropFirst()))), as: UTF8.self)
}
