import Dispatch
import Foundation
import ListConRanker

/// The real model behind the service: a ``ListConRanker/Reranker`` as a ``RerankEngine``, a
/// ``PooledVectorEngine`` (the feature store and the vector cache) and a ``BatchScoringEngine``.
///
/// Scoring takes seconds of CPU work and the matrix products use every core, so it runs on
/// one dedicated thread (see `ModelThread`), never on the async runtime's few threads.
public final class RerankerEngine: BatchScoringEngine, @unchecked Sendable {
    /// The model's name, as /info and the Cohere response report it.
    public let modelName: String
    /// The reranker.
    public let reranker: Reranker
    private let thread = ModelThread(name: "ListConRanker.model")
    /// The engine's model thread (for tests: it must end with the engine).
    var modelThread: ModelThread { thread }

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

    /// "fp32", "bf16", "fp16" or "int8", as the options chose.
    public var precision: String { reranker.options.precision.rawValue }

    /// "cpu" or "cuda:N", as the options chose.
    public var device: String { reranker.options.device.description }

    /// The GPU's name; nil on the CPU.
    public var deviceName: String? { reranker.deviceName }

    /// Why the GPU can no longer run the model, or nil.
    public var deviceFailure: String? { reranker.deviceFailure }

    /// The options' maximum length, [CLS] and [SEP] included.
    public var maxInputLength: Int { reranker.options.maxLength }

    /// The reranker's token count of `text`, [CLS] and [SEP] included, before truncation.
    public func tokenCount(_ text: String) -> Int { reranker.tokenCount(text) }

    /// Scores on the model thread: iterative inference for a long list when asked, else
    /// probabilities or (raw) logits.
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

    /// The encoder's hidden size, the length of its pooled vectors.
    public var hiddenSize: Int { reranker.model.encoder.configuration.hiddenSize }

    /// Hashes the encoder's files on the model thread: seconds for BERT-large, once per load.
    public func encoderIdentity() async throws -> String {
        let reranker = self.reranker
        return try await thread.run { try reranker.encoderIdentity() }
    }

    /// The texts' pooled encoder vectors, computed on the model thread.
    public func pooledVectors(for texts: [String]) async throws -> [[Float]] {
        let reranker = self.reranker
        return try await thread.run { try reranker.pooledVectors(for: texts) }
    }

    /// Scores stored passage vectors on the model thread; only the query is encoded.
    public func scores(query: String, passageVectors: [[Float]], raw: Bool, iterative: Bool) async throws -> [Float] {
        let reranker = self.reranker
        return try await thread.run {
            if iterative && IterativeInference.applies(toPassageCount: passageVectors.count) {
                return try reranker.iterativeScores(query: query, passageVectors: passageVectors)
            }
            return raw ? try reranker.logits(query: query, passageVectors: passageVectors)
                       : try reranker.scores(query: query, passageVectors: passageVectors)
        }
    }

    /// Scores several requests' lists in one pass on the model thread.
    public func scores(batch: [ScoringList]) async throws -> ScoredBatch {
        let reranker = self.reranker
        return try await thread.run { try reranker.scores(batch: batch) }
    }
}
