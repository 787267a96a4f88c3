import ListConRanker

/// An engine that scores several requests' lists in one pass (``ListConRanker/Reranker/scores(batch:)``):
/// what lets the service batch requests that arrive together.
///
/// As with the other engine calls, the service never calls `scores(batch:)` concurrently with
/// anything else the engine does.
public protocol BatchScoringEngine: PooledVectorEngine {
    /// Each list's scores, in list order: as ``RerankEngine/scores(query:texts:raw:iterative:)``
    /// and ``PooledVectorEngine/scores(query:passageVectors:raw:iterative:)`` give them for the
    /// list alone (within the precision's rounding), and the pooled vectors of the texts encoded.
    func scores(batch: [ScoringList]) async throws -> ScoredBatch
}
