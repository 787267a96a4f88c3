import Foundation
import ListConRanker
import ListConRankerServer

/// A deterministic stand-in for the model: scores a text by the share of the query's words it
/// contains. For route tests and load tests of the service before (or without) a real checkpoint;
/// its scores mean nothing beyond "more shared words rank higher".
///
/// It honours the ``RerankEngine`` contract the way the model does: one token per character plus
/// [CLS] and [SEP], right truncation at ``maxInputLength``, sigmoid probabilities or raw logits,
/// and iterative inference (``ListConRanker/IterativeInference``) over lists of more than 20 texts.
///
/// Test support and load-test tooling only: it is in no product.
public struct TokenOverlapEngine: RerankEngine {
    /// "token-overlap-fake".
    public let modelName = "token-overlap-fake"
    /// "fp32".
    public let precision = "fp32"
    /// Maximum tokens per text, [CLS] and [SEP] included.
    public let maxInputLength: Int
    /// Time one `scores` call takes, to stand in for the model's compute in load tests.
    public let latency: Duration

    /// Creates the engine.
    /// - Parameters:
    ///   - maxInputLength: maximum tokens per text, [CLS] and [SEP] included (at least 3).
    ///   - latency: time one `scores` call sleeps before answering.
    public init(maxInputLength: Int = 512, latency: Duration = .zero) {
        self.maxInputLength = max(maxInputLength, 3)
        self.latency = latency
    }

    /// Characters + 2 ([CLS] and [SEP]).
    public func tokenCount(_ text: String) -> Int {
        text.count + 2
    }

    /// The logit of `text` against `query`: 8 × (share of the query's words in the text) − 4,
    /// after truncating the text to the model's length.
    public func logit(query: String, text: String) -> Float {
        let queryWords = Self.words(String(query.prefix(maxInputLength - 2)))
        let textWords = Self.words(String(text.prefix(maxInputLength - 2)))
        guard !queryWords.isEmpty else { return -4 }
        let shared = queryWords.intersection(textWords).count
        return 8 * Float(shared) / Float(queryWords.count) - 4
    }

    /// Scores as the model would give them; see the type's description.
    public func scores(query: String, texts: [String], raw: Bool, iterative: Bool) async throws -> [Float] {
        if latency > .zero {
            try await Task.sleep(for: latency)
        }
        let logits = texts.map { logit(query: query, text: $0) }
        let iterative = iterative && IterativeInference.applies(toPassageCount: texts.count)
        if raw {
            guard !iterative else {
                throw TokenOverlapEngineError.rawIterative
            }
            return logits
        }
        let probabilities = logits.map { 1 / (1 + exp(-$0)) }
        guard iterative else { return probabilities }
        // This engine's scores do not depend on the list, so each round scores the survivors alone.
        return try IterativeInference.scores(passageCount: texts.count) { positions in positions.map { probabilities[$0] } }
    }

    private static func words(_ text: String) -> Set<Substring> {
        Set(text.lowercased().split { !$0.isLetter && !$0.isNumber })
    }
}

/// A misuse of ``TokenOverlapEngine``.
public enum TokenOverlapEngineError: Error, CustomStringConvertible {
    /// Raw logits were asked of an iterative run, whose scores are not logits.
    case rawIterative

    /// What went wrong.
    public var description: String {
        "raw scores are not available with iterative inference (more than 20 texts)"
    }
}
