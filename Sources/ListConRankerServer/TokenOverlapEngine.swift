import Foundation

/// A deterministic stand-in for the model: scores a text by the share of the query's words it
/// contains. For route tests and load tests of the service before (or without) a real checkpoint;
/// its scores mean nothing beyond "more shared words rank higher".
///
/// It honours the ``RerankEngine`` contract the way the model does: one token per character plus
/// [CLS] and [SEP], right truncation at ``maxInputLength``, sigmoid probabilities or raw logits,
/// and iterative inference (DESIGN §1.2) over lists of more than 20 texts.
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
        if raw {
            guard !(iterative && texts.count > 20) else {
                throw TokenOverlapEngineError.rawIterative
            }
            return logits
        }
        let probabilities = logits.map { 1 / (1 + exp(-$0)) }
        guard iterative && texts.count > 20 else { return probabilities }
        return Self.iterativeScores(probabilities)
    }

    /// DESIGN §1.2 over scores that do not depend on the list (as this engine's do): each round
    /// removes the lowest max(⌈20%⌉, 10), ties with the last removed leaving too, and offsets
    /// every score by the round it left in.
    static func iterativeScores(_ scores: [Float]) -> [Float] {
        var final = scores
        var remaining = Array(scores.indices)
        var round: Float = 0
        while remaining.count > 20 {
            let ascending = remaining.sorted { scores[$0] != scores[$1] ? scores[$0] < scores[$1] : $0 < $1 }
            let k = max(Int((0.2 * Double(ascending.count)).rounded(.up)), 10)
            var removed = k
            while removed < ascending.count && scores[ascending[removed]] == scores[ascending[k - 1]] {
                removed += 1
            }
            for index in ascending[..<removed] {
                final[index] = scores[index] + round
            }
            remaining = Array(ascending[removed...])
            round += 1
        }
        for index in remaining {
            final[index] = scores[index] + round
        }
        return final
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
