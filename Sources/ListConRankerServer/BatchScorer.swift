import ListConRanker

/// Scores the requests of one turn of the model (see ``InferenceQueue``): a request alone as the
/// engine's per-list calls score it, several together in one call of a ``BatchScoringEngine``.
///
/// Passages go through the vector cache when the engine hands out pooled vectors and the cache is
/// on: cached texts are not encoded again, and the scores are those of the texts.
struct BatchScorer: Sendable {
    let engine: any RerankEngine
    let cache: VectorCache?
    let metrics: ServiceMetrics

    /// One result per job, in order.
    func score(_ jobs: [RequestValidation.ScoringJob]) async -> [Result<[Float], any Error>] {
        metrics.batchRequests.record(Double(jobs.count))
        metrics.batchTokens.record(Double(jobs.reduce(0) { $0 + $1.totalTokens }))
        if jobs.count > 1, let batchEngine = engine as? any BatchScoringEngine {
            let start = ContinuousClock.now
            if let scores = try? await together(jobs, engine: batchEngine) {
                metrics.inferenceDuration.record(ContinuousClock.now - start)
                return scores.map { .success($0) }
            }
            // One request's failure (a list that does not fit in the GPU's memory, say) must not
            // fail the others: each is scored alone, and only the failing one gets the error.
        }
        var results = [Result<[Float], any Error>]()
        for job in jobs {
            do {
                results.append(.success(try await alone(job)))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }

    /// One request's scores through the engine's per-list calls.
    private func alone(_ job: RequestValidation.ScoringJob) async throws -> [Float] {
        let start = ContinuousClock.now
        defer { metrics.inferenceDuration.record(ContinuousClock.now - start) }
        let vectorEngine = engine as? any PooledVectorEngine
        if let passageVectors = job.passageVectors {
            guard let vectorEngine else {
                throw ServiceError(
                    status: .internalServerError, kind: .backend,
                    message: "The engine \(engine.modelName) cannot score stored vectors")
            }
            return try await vectorEngine.scores(
                query: job.query, passageVectors: passageVectors, raw: job.raw, iterative: job.iterative)
        }
        if let vectorEngine, let cache {
            let vectors = try await CachedVectors(cache: cache, metrics: metrics)
                .vectors(for: job.texts, engine: vectorEngine)
            return try await vectorEngine.scores(
                query: job.query, passageVectors: vectors, raw: job.raw, iterative: job.iterative)
        }
        return try await engine.scores(query: job.query, texts: job.texts, raw: job.raw, iterative: job.iterative)
    }

    /// The requests' scores from one batch call: every text they still need encoded goes through
    /// the encoder in one pass.
    private func together(_ jobs: [RequestValidation.ScoringJob], engine: any BatchScoringEngine) async throws -> [[Float]] {
        let cached = cache.map { CachedVectors(cache: $0, metrics: metrics) }
        var lists = [ScoringList]()
        var missing = [String]()
        for job in jobs {
            var list = ScoringList(query: job.query, texts: job.texts, raw: job.raw, iterative: job.iterative)
            if let passageVectors = job.passageVectors {
                list.passages = passageVectors.map(ScoringList.Passage.vector)
            } else if let cached {
                let looked = cached.passages(for: job.texts)
                list.passages = looked.passages
                missing += looked.missing
            }
            lists.append(list)
        }
        let scored = try await engine.scores(batch: lists)
        guard scored.scores.count == jobs.count else {
            throw ServiceError(
                status: .failedDependency, kind: .backend,
                message: "The model returned scores for \(scored.scores.count) lists of a batch of \(jobs.count)")
        }
        cached?.keep(missing, from: scored.encodedVectors)
        return scored.scores
    }
}
