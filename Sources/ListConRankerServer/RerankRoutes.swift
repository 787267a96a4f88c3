import Foundation
import Hummingbird

/// Everything a request handler needs, shared by all routes of one application.
struct ServiceState: Sendable {
    let configuration: ServiceConfiguration
    let slot: EngineSlot
    let queue: InferenceQueue
    let metrics: ServiceMetrics
}

/// `POST /rerank` (TEI) and `POST /v1/rerank` (Cohere / Jina).
struct RerankRoutes {
    let state: ServiceState

    func register(on router: Router<some RequestContext>) {
        router.post("rerank") { request, _ in try await teiRerank(request) }
        router.post("v1/rerank") { request, _ in try await cohereRerank(request) }
    }

    func teiRerank(_ request: Request) async throws -> Response {
        let engine = try await state.slot.loadedEngine()
        let body = try await JSONBody.decode(
            TEIRerankRequest.self, from: request, limit: state.configuration.payloadLimit)
        let truncation: RequestValidation.Truncation
        switch (body.truncate ?? false, body.truncationDirection?.lowercased()) {
        case (_, let direction?) where direction != "left" && direction != "right":
            throw ServiceError.unprocessable(
                "`truncation_direction` must be \"Right\" or \"Left\", got \"\(body.truncationDirection ?? "")\"")
        case (false, _): truncation = .refuse
        case (true, "left"): truncation = .left
        case (true, _): truncation = .right
        }
        let job = try RequestValidation(configuration: state.configuration, engine: engine).validate(
            query: body.query, texts: body.texts, textsField: "texts",
            truncation: truncation, raw: body.rawScores ?? false, allowIterative: true)
        let scores = try await score(job, with: engine)
        let returnText = body.returnText ?? false
        let ranks = Self.bestFirst(scores).map { index in
            TEIRank(index: index, score: scores[index], text: returnText ? body.texts[index] : nil)
        }
        return try JSONBody.response(ranks)
    }

    func cohereRerank(_ request: Request) async throws -> Response {
        let engine = try await state.slot.loadedEngine()
        let body = try await JSONBody.decode(
            CohereRerankRequest.self, from: request, limit: state.configuration.payloadLimit)
        if let topN = body.topN, topN < 1 {
            throw ServiceError.unprocessable("`top_n` must be at least 1, got \(topN)")
        }
        let texts = body.documents.map(\.text)
        // Cohere and Jina truncate long documents rather than refuse them, and rank long lists
        // the library's default way: iteratively.
        let job = try RequestValidation(configuration: state.configuration, engine: engine).validate(
            query: body.query, texts: texts, textsField: "documents",
            truncation: .right, raw: false, allowIterative: true)
        let scores = try await score(job, with: engine)
        let returnDocuments = body.returnDocuments ?? false
        let order = Self.bestFirst(scores).prefix(body.topN ?? texts.count)
        let response = CohereRerankResponse(
            id: UUID().uuidString.lowercased(),
            model: engine.modelName,
            results: order.map { index in
                .init(index: index, relevanceScore: scores[index],
                      document: returnDocuments ? CohereDocument(text: texts[index]) : nil)
            },
            // Cohere bills one search unit per query with up to 100 documents.
            meta: .init(billedUnits: .init(searchUnits: (texts.count + 99) / 100)),
            usage: .init(totalTokens: job.totalTokens))
        return try JSONBody.response(response)
    }

    /// Waits for the model, scores, and checks that the engine kept its side of the protocol.
    private func score(_ job: RequestValidation.ScoringJob, with engine: any RerankEngine) async throws -> [Float] {
        let metrics = state.metrics
        let scores: [Float]
        do {
            scores = try await state.queue.run(waited: { metrics.queueWaitDuration.record($0) }) {
                let start = ContinuousClock.now
                let scores = try await engine.scores(
                    query: job.query, texts: job.texts, raw: job.raw, iterative: job.iterative)
                metrics.inferenceDuration.record(ContinuousClock.now - start)
                return scores
            }
        } catch let error as ServiceError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ServiceError(status: .failedDependency, kind: .backend, message: "The model failed: \(error)")
        }
        guard scores.count == job.texts.count else {
            throw ServiceError(
                status: .failedDependency, kind: .backend,
                message: "The model returned \(scores.count) scores for \(job.texts.count) texts")
        }
        if let bad = scores.firstIndex(where: { !$0.isFinite }) {
            throw ServiceError(
                status: .failedDependency, kind: .backend,
                message: "The model returned a non-finite score (\(scores[bad])) for text \(bad)")
        }
        metrics.tokensProcessed.increment(by: Int64(job.totalTokens))
        metrics.textsScored.increment(by: Int64(job.texts.count))
        return scores
    }

    /// Indices ordered by score, best first; equal scores keep request order.
    static func bestFirst(_ scores: [Float]) -> [Int] {
        scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
    }
}
