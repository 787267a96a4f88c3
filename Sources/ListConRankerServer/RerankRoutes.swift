import Foundation
import Hummingbird

/// Everything a request handler needs, shared by all routes of one application.
struct ServiceState: Sendable {
    let configuration: ServiceConfiguration
    let slot: EngineSlot
    let queue: InferenceQueue
    let metrics: ServiceMetrics
    /// Pooled vectors of recent texts; nil when `--cache-mb 0`.
    var cache: VectorCache? = nil
    /// The feature store; nil without `--store`.
    var store: FeatureStoreSlot? = nil
}

/// `POST /rerank` (TEI) and `POST /v1/rerank` (Cohere / Jina; with a feature store, also by
/// `document_ids`).
struct RerankRoutes {
    let state: ServiceState

    func register(on router: Router<ServiceRequestContext>) {
        // A client that goes away while its request waits for the model gives its place back.
        router.post("rerank") { request, context in
            try await context.cancellingOnDisconnect { try await teiRerank(request) }
        }
        router.post("v1/rerank") { request, context in
            try await context.cancellingOnDisconnect { try await cohereRerank(request) }
        }
    }

    func teiRerank(_ request: Request) async throws -> Response {
        let engine = try await state.slot.loadedEngine()
        let body = try await JSONBody.collect(request, limit: state.configuration.payloadLimit)
        let pending = try RerankRequestDecoding.untokenizedTEI(
            body: body, configuration: state.configuration, engine: engine)
        let (plan, scores) = try await score(preparing: { try pending.tokenize() }, job: \.job, with: engine)
        let returnText = plan.request.returnText ?? false
        let ranks = Self.bestFirst(scores).map { index in
            TEIRank(index: index, score: scores[index], text: returnText ? plan.request.texts[index] : nil)
        }
        return try JSONBody.response(ranks)
    }

    func cohereRerank(_ request: Request) async throws -> Response {
        let engine = try await state.slot.loadedEngine()
        let body = try await JSONBody.collect(request, limit: state.configuration.payloadLimit)
        let pending = try RerankRequestDecoding.untokenizedCohere(
            body: body, configuration: state.configuration, engine: engine, hasFeatureStore: state.store != nil)
        let (plan, scores) = try await score(
            preparing: { try await withStoredVectors(try pending.tokenize(), engine: engine) },
            job: \.job, with: engine)
        let returnDocuments = plan.request.returnDocuments ?? false
        let result: (Int) -> CohereRerankResponse.Result
        switch plan {
        case let .documents(_, texts, _):
            result = { index in
                .init(index: index, relevanceScore: scores[index],
                      document: returnDocuments ? CohereDocument(text: texts[index]) : nil)
            }
        case let .documentIDs(_, ids, _):
            result = { index in .init(index: index, relevanceScore: scores[index], document: nil, id: ids[index]) }
        }
        return try cohereResponse(plan.request, scores: scores, job: plan.job, engine: engine, result: result)
    }

    /// Passages by id: their pooled vectors come from the feature store (into the job's
    /// `passageVectors`), and only the query goes through the encoder. Passages by text pass through.
    private func withStoredVectors(
        _ plan: RerankRequestDecoding.CoherePlan, engine: any RerankEngine
    ) async throws -> RerankRequestDecoding.CoherePlan {
        guard case .documentIDs(let body, let ids, var job) = plan else { return plan }
        guard let store = state.store else {
            // RerankRequestDecoding.cohere refuses `document_ids` without a store; kept as a 422
            // rather than a trap should the two ever disagree.
            throw ServiceError.unprocessable(
                "`document_ids` needs a feature store, and this service has none (start it with --store)")
        }
        let featureStore = try await store.store(for: engine)
        let found = try await withStoreErrors { try await featureStore.vectors(for: ids) }
        var vectors: [[Float]] = []
        vectors.reserveCapacity(ids.count)
        var missing: [String] = []
        for id in ids {
            if let entry = found[id] { vectors.append(entry.vector) } else { missing.append(id) }
        }
        if !missing.isEmpty {
            throw ServiceError.unprocessable(Self.describeMissing(missing))
        }
        job.passageVectors = vectors
        return .documentIDs(body, ids: ids, job: job)
    }

    /// "`document_ids` names 2 ids the feature store does not hold: "a", "b"" (the first 20 named).
    static func describeMissing(_ missing: [String]) -> String {
        var unique: [String] = []
        var seen = Set<String>()
        for id in missing where seen.insert(id).inserted { unique.append(id) }
        let shown = unique.prefix(20).map { "\"\($0)\"" }.joined(separator: ", ")
        let more = unique.count > 20 ? " and \(unique.count - 20) more" : ""
        return "`document_ids` names \(unique.count) id(s) the feature store does not hold: \(shown)\(more)"
    }

    private func cohereResponse(
        _ body: CohereRerankRequest, scores: [Float], job: RequestValidation.ScoringJob, engine: any RerankEngine,
        result: (Int) -> CohereRerankResponse.Result
    ) throws -> Response {
        let count = scores.count
        let order = Self.bestFirst(scores).prefix(body.topN ?? count)
        let response = CohereRerankResponse(
            id: UUID().uuidString.lowercased(),
            model: engine.modelName,
            results: order.map(result),
            // Cohere bills one search unit per query with up to 100 documents.
            meta: .init(billedUnits: .init(searchUnits: (count + 99) / 100)),
            usage: .init(totalTokens: job.totalTokens))
        return try JSONBody.response(response)
    }

    /// Takes the request's place in the queue (429 at once when it is full), prepares it
    /// (tokenization, store look-ups), waits for the model (or to be scored in another request's
    /// batch), and checks that the engine kept its side of the protocol. Returns what `prepare`
    /// made and the scores.
    private func score<Prepared: Sendable>(
        preparing prepare: @escaping @Sendable () async throws -> Prepared,
        job jobPath: KeyPath<Prepared, RequestValidation.ScoringJob> & Sendable,
        with engine: any RerankEngine
    ) async throws -> (Prepared, [Float]) {
        let metrics = state.metrics
        let scorer = BatchScorer(engine: engine, cache: state.cache, metrics: metrics)
        let prepared: Prepared
        let scores: [Float]
        do {
            (prepared, scores) = try await state.queue.runScoring(
                preparing: prepare, job: jobPath, batching: state.configuration.batchingPolicy(for: engine),
                waited: { metrics.queueWaitDuration.record($0) },
                score: { jobs in await scorer.score(jobs) })
        } catch let error as ServiceError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ServiceError(status: .failedDependency, kind: .backend, message: "The model failed: \(error)")
        }
        let job = prepared[keyPath: jobPath]
        guard scores.count == job.passageCount else {
            throw ServiceError(
                status: .failedDependency, kind: .backend,
                message: "The model returned \(scores.count) scores for \(job.passageCount) texts")
        }
        if let bad = scores.firstIndex(where: { !$0.isFinite }) {
            throw ServiceError(
                status: .failedDependency, kind: .backend,
                message: "The model returned a non-finite score (\(scores[bad])) for text \(bad)")
        }
        metrics.tokensProcessed.increment(by: Int64(job.totalTokens))
        metrics.textsScored.increment(by: Int64(job.passageCount))
        return (prepared, scores)
    }

    /// Indices ordered by score, best first; equal scores keep request order.
    static func bestFirst(_ scores: [Float]) -> [Int] {
        scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
    }
}
