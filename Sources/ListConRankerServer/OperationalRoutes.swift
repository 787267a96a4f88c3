import ListConRanker
import Hummingbird

/// `GET /health`, `GET /info`, `GET /metrics` and `GET /openapi.json`.
struct OperationalRoutes {
    let state: ServiceState

    func register(on router: Router<some RequestContext>) {
        router.get("health") { _, _ in try await health() }
        router.get("info") { _, _ in try await info() }
        router.get("metrics") { _, _ in metrics() }
        router.get("openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: EmbeddedFiles.openAPIDocument)))
        }
    }

    /// 200 once the model is loaded, with the device it runs on; 503 before (load balancers take
    /// that as "not yet").
    func health() async throws -> Response {
        let engine = try await state.slot.loadedEngine()
        return try JSONBody.response(HealthResponse(status: "ok", device: engine.device, deviceName: engine.deviceName))
    }

    func info() async throws -> Response {
        let engine = await state.slot.engine
        let configuration = state.configuration
        return try JSONBody.response(InfoResponse(
            modelID: engine?.modelName,
            modelDtype: engine?.precision,
            maxInputLength: engine?.maxInputLength,
            ready: engine != nil,
            maxConcurrentRequests: configuration.maxConcurrentRequests,
            maxClientBatchSize: configuration.maxClientBatchSize,
            maxBatchTokens: configuration.maxBatchTokens,
            payloadLimit: configuration.payloadLimit,
            iterativeInferenceAbove: IterativeInference.threshold,
            version: RerankService.version,
            device: engine?.device,
            batching: engine.map { configuration.batchingPolicy(for: $0).enabled },
            maxBatchDelayMilliseconds: configuration.maxBatchDelayMilliseconds))
    }

    func metrics() -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: state.metrics.exposition())))
    }
}
