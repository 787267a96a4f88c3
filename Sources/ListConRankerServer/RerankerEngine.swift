import Dispatch
import Foundation
import ListConRanker

/// The real model behind the service: a ``ListConRanker/Reranker`` as a ``RerankEngine``.
///
/// Scoring takes seconds of CPU work and the matrix products use every core, so it runs on
/// one dedicated thread (see `ModelThread`), never on the async runtime's few threads.
public final class RerankerEngine: RerankEngine, @unchecked Sendable {
    /// The model's name, as /info and the Cohere response report it.
    public let modelName: String
    /// The reranker.
    public let reranker: Reranker
    private let thread = ModelThread(name: "ListConRanker.model")

    /// Wraps a loaded reranker.
    public init(reranker: Reranker, modelName: String) {
        self.reranker = reranker
        self.modelName = modelName
    }

    // The model thread ends with the engine (after the jobs already queued).
    deinit { thread.stop() }

    /// Loads a model directory off the async runtime's threads.
    public static func load(modelDirectory: URL, options: RerankerOptions, modelName: String? = nil) async throws -> RerankerEngine {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result {
                    RerankerEngine(reranker: try Reranker(modelDirectory: modelDirectory, options: options),
                                   modelName: modelName ?? modelDirectory.lastPathComponent)
                })
            }
        }
    }

    public var precision: String { reranker.options.precision.rawValue }

    public var maxInputLength: Int { reranker.options.maxLength }

    public func tokenCount(_ text: String) -> Int { reranker.tokenCount(text) }

    public func scores(query: String, texts: [String], raw: Bool, iterative: Bool) async throws -> [Float] {
        let reranker = self.reranker
        return try await thread.run {
            if iterative && IterativeInference.applies(toPassageCount: texts.count) {
                return try reranker.iterativeScores(query: query, passages: texts)
            }
            return raw ? try reranker.logits(query: query, passages: texts)
                       : try reranker.scores(query: query, passages: texts)
        }
    }
}
