// Where the model and the feature store meet: passages whose pooled encoder vectors a store
// keeps, ranked by a Reranker. Neither ListConRanker (the model) nor ListConRankerStore (vectors
// and hashes) knows the other; this module knows both.
import Foundation
@_exported import ListConRankerStore
import ListConRanker

/// Passages encoded once: a ``ListConRanker/Reranker`` whose passages' pooled encoder vectors
/// come from a ``FeatureStore``, so a rerank costs one query encoding plus the list head.
///
/// The store is opened for the reranker's ``ListConRanker/Reranker/encoderIdentity()``: a store
/// written by another encoder is refused, never mixed. A head retrained with the encoder frozen
/// keeps the same identity, and so the same store.
public struct StoredPassages: Sendable {
    /// The model.
    public let reranker: Reranker
    /// Where the passages' vectors are.
    public let store: any FeatureStore

    /// Uses `store`, which must have been opened for `reranker`'s encoder identity.
    public init(reranker: Reranker, store: any FeatureStore) {
        self.reranker = reranker
        self.store = store
    }

    /// Opens (creating if needed) the store at `location` for `reranker`'s encoder. `precision`
    /// chooses how a new store keeps vectors (fp32, or bf16 at half the size); nil accepts what
    /// an existing store uses.
    public static func open(reranker: Reranker, location: FeatureStoreLocation,
                            precision: VectorPrecision? = nil) async throws -> StoredPassages {
        let configuration = try FeatureStoreConfiguration(
            encoderIdentity: reranker.encoderIdentity(),
            dimension: reranker.model.encoder.configuration.hiddenSize, precision: precision)
        return StoredPassages(reranker: reranker, store: try await location.open(configuration: configuration))
    }

    /// The SHA-256 of a text's UTF-8 bytes: what the store keeps to tell a changed text
    /// (``ListConRankerStore/TextHash/sha256(of:)``, kept here for callers that used it).
    public static func textHash(_ text: String) -> TextHash {
        TextHash.sha256(of: text)
    }

    /// Encodes and stores the passages whose id is new or whose text changed, `batchSize` at a
    /// time; each batch is one transaction, so a killed run loses nothing it had written and a
    /// rerun resumes by skipping what is unchanged. Within `passages` a later id wins.
    /// `progress` receives the number of passages dealt with so far.
    public func index(_ passages: [IndexedPassage], batchSize: Int = 64,
                      progress: (@Sendable (Int) -> Void)? = nil) async throws -> IndexReport {
        guard batchSize >= 1 else { throw FeatureStoreError.invalidConfiguration("the batch size must be at least 1") }
        for (i, passage) in passages.enumerated() {
            guard !passage.id.isEmpty else { throw FeatureStoreError.invalidEntry(id: "", reason: "passage \(i) has an empty id") }
            guard !passage.text.allSatisfy(\.isWhitespace) else {
                throw FeatureStoreError.invalidEntry(id: passage.id, reason: "its text is empty")
            }
        }
        let (unique, duplicates) = IndexedPassage.lastOfEachID(passages)
        var report = IndexReport(duplicates: duplicates)
        for start in stride(from: 0, to: unique.count, by: batchSize) {
            let batch = Array(unique[start..<min(start + batchSize, unique.count)])
            let written = try await store.upsertChanged(batch) { try reranker.pooledVectors(for: $0) }
            report.indexed += written.indexed
            report.unchanged += written.unchanged
            progress?(start + batch.count + duplicates)
        }
        return report
    }

    /// The stored pooled vectors of `ids`, in order; ``FeatureStoreError/missingIDs(_:)`` names
    /// every id the store does not hold.
    public func vectors(ids: [String]) async throws -> [[Float]] {
        try await store.orderedVectors(for: ids).map(\.vector)
    }

    /// Scores of the stored passages `ids` for `query`, in id order: probabilities, or (with
    /// `iterative` and more than 20 ids) iterative-inference scores.
    public func scores(query: String, ids: [String], iterative: Bool = true) async throws -> [Float] {
        let vectors = try await vectors(ids: ids)
        return iterative && IterativeInference.applies(toPassageCount: ids.count)
            ? try reranker.iterativeScores(query: query, passageVectors: vectors)
            : try reranker.scores(query: query, passageVectors: vectors)
    }

    /// The stored passages `ids` ranked for `query`, best first (`index` counts `ids` from 0).
    public func rerank(query: String, ids: [String], topN: Int? = nil, iterative: Bool = true) async throws -> [RankedPassage] {
        try reranker.rerank(query: query, passageVectors: try await vectors(ids: ids), topN: topN, iterative: iterative)
    }
}
