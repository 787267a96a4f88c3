import Foundation
import Hummingbird
import ListConRanker
import ListConRankerStore

/// `POST /v1/index` and `DELETE /v1/index/{id}`: put passages into the feature store and take
/// them out. They change data, so they are registered only when the service has an API key
/// (and a store), and every request must carry it.
struct IndexRoutes {
    let state: ServiceState
    let store: FeatureStoreSlot
    let token: BearerToken
    /// A delete and an index of the same id run one after the other, never interleaved.
    let locks = PassageLocks()

    func register(on router: Router<ServiceRequestContext>) {
        router.post("v1/index") { request, context in
            try await context.cancellingOnDisconnect { try await index(request) }
        }
        router.delete("v1/index/:id") { request, context in
            try await delete(request, rawID: context.parameters.get("id") ?? "")
        }
    }

    /// Encodes the texts whose hash the store does not hold yet and upserts them in one batch.
    func index(_ request: Request) async throws -> Response {
        try token.authorize(request)
        let engine = try await state.slot.loadedEngine()
        let body = try await JSONBody.decode(IndexRequest.self, from: request, limit: state.configuration.payloadLimit)
        let documents = body.documents
        try validate(documents, engine: engine)
        guard let vectorEngine = engine as? any PooledVectorEngine else {
            throw ServiceError(
                status: .internalServerError, kind: .backend,
                message: "The engine \(engine.modelName) has no pooled vectors: it cannot index")
        }

        // Last wins for a repeated id, and only changed texts are encoded: the CLI's `index` rule.
        let (unique, duplicates) = IndexedPassage.lastOfEachID(documents.map { IndexedPassage(id: $0.id, text: $0.text) })
        let featureStore = try await store.store(for: engine)
        let report = try await locks.holding(Set(unique.map(\.id))) {
            try await withStoreErrors {
                try await featureStore.upsertChanged(unique) { try await encode($0, engine: vectorEngine) }
            }
        }
        return try JSONBody.response(IndexResponse(
            indexed: report.indexed, unchanged: report.unchanged, duplicates: duplicates))
    }

    /// Removes one id; succeeds whether or not the store held it (`deleted` says which).
    func delete(_ request: Request, rawID: String) async throws -> Response {
        try token.authorize(request)
        let engine = try await state.slot.loadedEngine()
        // The router hands the path segment over as sent: an id with `/` or spaces arrives encoded.
        guard let id = rawID.removingPercentEncoding, !id.isEmpty else {
            throw ServiceError.unprocessable("the id in the path is empty or not valid percent-encoding")
        }
        let featureStore = try await store.store(for: engine)
        let removed = try await locks.holding([id]) {
            try await withStoreErrors { try await featureStore.delete(ids: [id]) }
        }
        return try JSONBody.response(DeleteResponse(id: id, deleted: removed > 0))
    }

    /// An empty list, an empty id or text, an id the store cannot hold, too many documents or tokens:
    /// each refused before anything is encoded or written, naming the document.
    private func validate(_ documents: [IndexRequest.Document], engine: any RerankEngine) throws(ServiceError) {
        let configuration = state.configuration
        if documents.isEmpty {
            throw .unprocessable("`documents` must not be empty")
        }
        if documents.count > configuration.maxClientBatchSize {
            throw .tooLarge(
                "`documents` has \(documents.count) elements, more than max-client-batch-size "
                    + "\(configuration.maxClientBatchSize)")
        }
        var tokens = 0
        for (index, document) in documents.enumerated() {
            if document.id.isEmpty {
                throw .unprocessable("`documents[\(index)].id` is empty")
            }
            if document.id.utf8.contains(0) {
                throw .unprocessable("`documents[\(index)].id` contains a NUL character")
            }
            if document.text.allSatisfy(\.isWhitespace) {
                throw .unprocessable("`documents[\(index)].text` is empty")
            }
            tokens += min(engine.tokenCount(document.text), engine.maxInputLength)
        }
        // The same bound on one request's encoder work as the rerank routes have.
        if tokens > configuration.maxBatchTokens {
            throw .tooLarge(
                "the documents have \(tokens) tokens after truncation, more than max-batch-tokens "
                    + "\(configuration.maxBatchTokens); send them in smaller batches")
        }
    }

    /// Pooled vectors in the model's turn, through the cache when it is on (without filling it).
    private func encode(_ texts: [String], engine: any PooledVectorEngine) async throws -> [[Float]] {
        let metrics = state.metrics
        let cache = state.cache
        do {
            return try await state.queue.run(waited: { metrics.queueWaitDuration.record($0) }) {
                let start = ContinuousClock.now
                defer { metrics.inferenceDuration.record(ContinuousClock.now - start) }
                let vectors: [[Float]]
                if let cache {
                    vectors = try await CachedVectors(cache: cache, metrics: metrics)
                        .vectors(for: texts, engine: engine, fill: false)
                } else {
                    vectors = try await engine.pooledVectors(for: texts)
                }
                guard vectors.count == texts.count, vectors.allSatisfy({ $0.count == engine.hiddenSize }) else {
                    throw ServiceError(
                        status: .failedDependency, kind: .backend,
                        message: "The model returned \(vectors.count) vectors for \(texts.count) texts, "
                            + "or vectors of another length than its hidden size \(engine.hiddenSize)")
                }
                return vectors
            }
        } catch let error as ServiceError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ServiceError(status: .failedDependency, kind: .backend, message: "The model failed: \(error)")
        }
    }
}
