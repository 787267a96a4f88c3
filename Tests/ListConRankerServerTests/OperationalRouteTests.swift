import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import ListConRankerServer
import ListConRankerFakeEngine

@Suite("GET /health, /info, /metrics, /openapi.json")
struct OperationalRouteTests {
    @Test func healthAndInfoWithALoadedEngine() async throws {
        let app = try RerankService.makeApplication(
            engine: TokenOverlapEngine(maxInputLength: 256),
            configuration: .init(maxConcurrentRequests: 7, maxClientBatchSize: 40, maxBatchTokens: 9_000),
            logger: quietLogger)
        try await app.test(.router) { client in
            let health = try await client.get("/health")
            #expect(health.status == .ok)
            // A fake engine says nothing of its device: the CPU, and no device name.
            #expect(try parsed(health.body) as? [String: String] == ["status": "ok", "device": "cpu"])

            let info = try #require(try parsed(try await client.get("/info").body) as? [String: Any])
            #expect(info["model_id"] as? String == "token-overlap-fake")
            #expect(info["model_dtype"] as? String == "fp32")
            #expect(info["max_input_length"] as? Int == 256)
            #expect(info["ready"] as? Bool == true)
            #expect(info["max_concurrent_requests"] as? Int == 7)
            #expect(info["max_client_batch_size"] as? Int == 40)
            #expect(info["max_batch_tokens"] as? Int == 9_000)
            #expect(info["iterative_inference_above"] as? Int == 20)
            #expect(info["version"] as? String == RerankService.version)
            #expect(info["device"] as? String == "cpu")
            // auto: no batching on the CPU.
            #expect(info["batching"] as? Bool == false)
            #expect(info["max_batch_delay_ms"] as? Int == 2)
        }
    }

    @Test func healthIs503UntilTheEngineHasLoaded() async throws {
        let gate = Gate()
        let app = try applicationLoading(behind: gate)
        try await app.test(.router) { client in
            let loading = try await client.get("/health")
            #expect(loading.status == .serviceUnavailable)
            #expect(try errorBody(loading)?.type == "Unhealthy")
            let rerank = try await client.post("/rerank", ["query": "q", "texts": ["a"]])
            #expect(rerank.status == .serviceUnavailable)
            #expect(try errorBody(rerank)?.type == "Unhealthy")
            let info = try #require(try parsed(try await client.get("/info").body) as? [String: Any])
            #expect(info["ready"] as? Bool == false)
            #expect(info["model_id"] is NSNull)

            await gate.open()
            #expect(try await eventually { try await client.get("/health").status == .ok })
            #expect(try await client.post("/rerank", ["query": "q", "texts": ["a"]]).status == .ok)
        }
    }

    /// A GPU whose context failed for good (a kernel faulted) cannot serve again until the process
    /// restarts: the failing request gets the device's error, and from then on `/health` and the
    /// rerank routes answer 503 Unhealthy, naming the failure, so that a health check restarts it.
    @Test func healthIs503OnceTheDeviceHasFailedForGood() async throws {
        let app = try RerankService.makeApplication(engine: FailingDeviceEngine(), configuration: .init(), logger: quietLogger)
        try await app.test(.router) { client in
            #expect(try await client.get("/health").status == .ok)
            let failing = try await client.post("/rerank", ["query": "q", "texts": ["a"]])
            #expect(failing.status == .failedDependency)
            #expect(try errorBody(failing)?.error.contains("CUDA_ERROR_LAUNCH_FAILED") == true)

            let health = try await client.get("/health")
            #expect(health.status == .serviceUnavailable)
            let error = try #require(try errorBody(health))
            #expect(error.type == "Unhealthy")
            #expect(error.error.contains("cuda:0") && error.error.contains("CUDA_ERROR_LAUNCH_FAILED")
                    && error.error.contains("restart"), "\(error.error)")
            for route in ["/rerank", "/v1/rerank"] {
                let body: [String: Any] = route == "/rerank" ? ["query": "q", "texts": ["a"]] : ["query": "q", "documents": ["a"]]
                let refused = try await client.post(route, body)
                #expect(refused.status == .serviceUnavailable, "\(route)")
                #expect(try errorBody(refused)?.type == "Unhealthy", "\(route)")
            }
        }
    }

    @Test func aFailedLoadStopsTheService() async throws {
        struct MissingWeights: Error {}
        let app = try RerankService.makeApplication(
            loadingEngine: { throw MissingWeights() },
            configuration: .init(port: 0), logger: quietLogger)
        await #expect(throws: MissingWeights.self) { try await app.run() }
    }

    @Test func metricsCountRequestsTokensAndLatency() async throws {
        let app = try RerankService.makeApplication(engine: TokenOverlapEngine(), configuration: .init(), logger: quietLogger)
        try await app.test(.router) { client in
            #expect(try await client.post("/rerank", ["query": "abc", "texts": ["a", "bb"]]).status == .ok)
            #expect(try await client.post("/rerank", ["query": "abc", "texts": ["a", "bb"]]).status == .ok)
            #expect(try await client.post("/rerank", ["query": "", "texts": ["a"]]).status == .unprocessableContent)
            #expect(try await client.post("/v1/rerank", ["query": "abc", "documents": ["cccc"]]).status == .ok)

            let response = try await client.get("/metrics")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = String(buffer: response.body)
            let lines = Set(text.split(separator: "\n").map(String.init))
            #expect(lines.contains(#"listconranker_http_requests_total{route="/rerank",method="POST",status="200"} 2"#))
            #expect(lines.contains(#"listconranker_http_requests_total{route="/rerank",method="POST",status="422"} 1"#))
            #expect(lines.contains(#"listconranker_http_requests_total{route="/v1/rerank",method="POST",status="200"} 1"#))
            // (5 + 3 + 4) tokens twice on /rerank, then 5 + 6 on /v1/rerank.
            #expect(lines.contains("listconranker_tokens_processed_total 35"))
            #expect(lines.contains("listconranker_texts_scored_total 5"))
            #expect(lines.contains("listconranker_queue_depth_requests 0.0"))
            // Latency by status too, so that a 429's or a 422's own time can be read apart.
            #expect(lines.contains(#"listconranker_http_request_duration_seconds_count{route="/rerank",method="POST",status="200"} 2"#))
            #expect(lines.contains(#"listconranker_http_request_duration_seconds_count{route="/rerank",method="POST",status="422"} 1"#))
            #expect(lines.contains("listconranker_inference_duration_seconds_count 3"))
            #expect(text.contains(#"listconranker_http_request_duration_seconds_bucket{route="/rerank",method="POST",status="200",le="0.001"}"#))
        }
    }

    @Test func openAPIDocumentDescribesExactlyTheRoutesServed() async throws {
        let app = try RerankService.makeApplication(engine: TokenOverlapEngine(), configuration: .init(), logger: quietLogger)
        let served = try await app.test(.router) { client in
            let response = try await client.get("/openapi.json")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            return String(buffer: response.body)
        }
        // The committed file and the served copy are the same document.
        let file = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/ListConRankerServer/openapi.json")
        let committed = try String(contentsOf: file, encoding: .utf8)
        #expect(served == committed, "GET /openapi.json must serve openapi.json verbatim")

        let document = try #require(try JSONSerialization.jsonObject(with: Data(served.utf8)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let documented = Set(paths.flatMap { path, operations in operations.keys.map { "\($0.uppercased()) \(path)" } })

        func routes(_ configuration: ServiceConfiguration) -> Set<String> {
            let state = ServiceState(
                configuration: configuration, slot: EngineSlot(), queue: InferenceQueue(capacity: 1),
                metrics: ServiceMetrics(registry: .init()),
                store: configuration.featureStore.map { FeatureStoreSlot(location: $0, logger: quietLogger) })
            return Set(RerankService.makeRouter(state: state).routes.map { "\($0.method) \($0.path)" })
        }
        // With a store and an API key every documented route is served; without a key, all but
        // the index routes.
        let everything = routes(.init(featureStore: .sqlite(path: "unused.sqlite"), apiKey: "key"))
        #expect(everything.count == 10)
        #expect(documented == everything)
        let withoutKey = routes(.init())
        #expect(withoutKey == everything.subtracting(["POST /v1/index", "DELETE /v1/index/{id}"]))
    }
}
