import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import ListConRankerServer
import ListConRankerFakeEngine

@Suite("Request limits and errors")
struct RequestLimitTests {
    func app(_ engine: any RerankEngine = TokenOverlapEngine(), _ configuration: ServiceConfiguration = .init()) throws -> some ApplicationProtocol {
        try RerankService.makeApplication(engine: engine, configuration: configuration, logger: quietLogger)
    }

    func expectError(
        _ response: TestResponse, _ status: HTTPResponse.Status, _ type: String, mentioning fragment: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(response.status == status, sourceLocation: sourceLocation)
        #expect(response.headers[.contentType] == "application/json", sourceLocation: sourceLocation)
        let error = try #require(try errorBody(response), sourceLocation: sourceLocation)
        #expect(error.type == type, sourceLocation: sourceLocation)
        #expect(error.error.contains(fragment), "\(error.error)", sourceLocation: sourceLocation)
    }

    @Test func malformedJSONWrongTypesAndEmptyInputsAre422() async throws {
        let engine = RecordingEngine()
        try await app(engine).test(.router) { client in
            let notJSON = try await client.execute(
                uri: "/rerank", method: .post, body: ByteBuffer(string: "{\"query\": \"a\", \"texts\": [\"b\""))
            try expectError(notJSON, .unprocessableContent, "Validation", mentioning: "not valid JSON")

            try expectError(try await client.post("/rerank", ["query": "a", "texts": ["b", 2]]),
                            .unprocessableContent, "Validation", mentioning: "`texts[1]`: expected a string")
            try expectError(try await client.post("/rerank", ["query": 7, "texts": ["b"]]),
                            .unprocessableContent, "Validation", mentioning: "`query`: expected a string")
            try expectError(try await client.post("/rerank", ["query": "a", "texts": ["b"], "truncate": "yes"]),
                            .unprocessableContent, "Validation", mentioning: "`truncate`: expected a boolean")
            try expectError(try await client.post("/rerank", ["texts": ["b"]]),
                            .unprocessableContent, "Validation", mentioning: "missing field `query`")
            try expectError(try await client.post("/rerank", [["query": "a"]]),
                            .unprocessableContent, "Validation", mentioning: "must be a JSON object")
            try expectError(try await client.post("/rerank", ["query": "  ", "texts": ["b"]]),
                            .unprocessableContent, "Validation", mentioning: "`query` must not be empty")
            try expectError(try await client.post("/rerank", ["query": "a", "texts": [String]()]),
                            .unprocessableContent, "Validation", mentioning: "`texts` must not be empty")
            try expectError(try await client.post("/v1/rerank", ["query": "a", "documents": [String]()]),
                            .unprocessableContent, "Validation", mentioning: "`documents` must not be empty")
            try expectError(try await client.post("/v1/rerank", ["query": "", "documents": ["b"]]),
                            .unprocessableContent, "Validation", mentioning: "`query` must not be empty")
        }
        #expect(engine.calls.isEmpty)
    }

    @Test func tooManyTextsIs413() async throws {
        try await app(TokenOverlapEngine(), .init(maxClientBatchSize: 3)).test(.router) { client in
            #expect(try await client.post("/rerank", ["query": "a", "texts": ["1", "2", "3"]]).status == .ok)
            try expectError(try await client.post("/rerank", ["query": "a", "texts": ["1", "2", "3", "4"]]),
                            .contentTooLarge, "Validation", mentioning: "max-client-batch-size 3")
            try expectError(try await client.post("/v1/rerank", ["query": "a", "documents": ["1", "2", "3", "4"]]),
                            .contentTooLarge, "Validation", mentioning: "`documents` has 4 elements")
        }
    }

    @Test func tooManyTokensIs413() async throws {
        // Tokens are characters + 2: query "q" is 3, each 10-character text 12.
        let ten = String(repeating: "x", count: 10)
        try await app(TokenOverlapEngine(), .init(maxBatchTokens: 3 + 12 * 4)).test(.router) { client in
            #expect(try await client.post("/rerank", ["query": "q", "texts": Array(repeating: ten, count: 4)]).status == .ok)
            try expectError(try await client.post("/rerank", ["query": "q", "texts": Array(repeating: ten, count: 5)]),
                            .contentTooLarge, "Validation", mentioning: "63 tokens")
        }
    }

    @Test func oversizedBodyIs413() async throws {
        let big = String(repeating: "y", count: 300)
        try await app(TokenOverlapEngine(), .init(payloadLimit: 256)).test(.router) { client in
            #expect(try await client.post("/rerank", ["query": "q", "texts": ["small"]]).status == .ok)
            try expectError(try await client.post("/rerank", ["query": "q", "texts": [big]]),
                            .contentTooLarge, "Validation", mentioning: "payload limit")
        }
    }

    @Test func fullQueueAnswers429AtOnce() async throws {
        let gate = Gate()
        let engine = RecordingEngine(gate: gate)
        let body = try json(["query": "capital", "texts": ["the capital", "a river"]])
        try await app(engine, .init(maxConcurrentRequests: 2)).test(.router) { client in
            async let first = client.post("/rerank", body: body)
            async let second = client.post("/rerank", body: body)
            // One running in the engine, one waiting for it.
            #expect(await eventually { engine.started == 1 })
            #expect(try await eventually {
                String(buffer: try await client.get("/metrics").body).contains("listconranker_queue_depth_requests 2.0")
            })
            let tooLong = ["query": "capital", "texts": [String(repeating: "word ", count: 200)]] as [String: Any]
            // The gate opens whatever happens, or the held requests would wait for ever.
            do {
                let tokenized = engine.tokenizedTexts.value
                let refused = try await client.post("/rerank", body: body)
                try expectError(refused, .tooManyRequests, "Overloaded", mentioning: "max-concurrent-requests 2")
                #expect(refused.headers[.retryAfter] == "1")
                // Refused before its texts were tokenized: while the model is saturated a 429 costs
                // the service a JSON decode, not a pass of the tokenizer.
                #expect(engine.tokenizedTexts.value == tokenized)
                let cohere = try await client.post("/v1/rerank", ["query": "capital", "documents": ["the capital"]])
                try expectError(cohere, .tooManyRequests, "Overloaded", mentioning: "max-concurrent-requests 2")
                #expect(engine.tokenizedTexts.value == tokenized)
                // A text over the model's maximum is found by tokenizing, so while the queue is full
                // it is answered 429 too; once there is room, its 413.
                try expectError(try await client.post("/rerank", tooLong), .tooManyRequests, "Overloaded",
                                mentioning: "retry later")
                // What tokenizes nothing is still checked first: an empty list is 422 while full.
                try expectError(try await client.post("/rerank", ["query": "capital", "texts": []]),
                                .unprocessableContent, "Validation", mentioning: "must not be empty")
            } catch {
                await gate.open()
                throw error
            }
            await gate.open()
            #expect(try await first.status == .ok)
            #expect(try await second.status == .ok)
            #expect(try await client.post("/rerank", body: body).status == .ok)
            try expectError(try await client.post("/rerank", tooLong), .contentTooLarge, "Validation",
                            mentioning: "more than the model's maximum")
        }
        #expect(engine.calls.count == 3)
    }

    @Test func modelRunsOneRequestAtATime() async throws {
        let engine = RecordingEngine(base: TokenOverlapEngine(latency: .milliseconds(5)))
        try await app(engine).test(.router) { client in
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for index in 0..<12 {
                    group.addTask {
                        try await client.post("/rerank", ["query": "q \(index)", "texts": ["q", "r"]]).status
                    }
                }
                for try await status in group {
                    #expect(status == .ok)
                }
            }
        }
        #expect(engine.calls.count == 12)
        #expect(engine.maxOverlap == 1)
    }

    @Test func engineFailureIs424Backend() async throws {
        try await app(BrokenEngine()).test(.router) { client in
            try expectError(try await client.post("/rerank", ["query": "q", "texts": ["a"]]),
                            .failedDependency, "Backend", mentioning: "deviceLost")
        }
        try await app(BrokenEngine(wrongCount: true)).test(.router) { client in
            try expectError(try await client.post("/v1/rerank", ["query": "q", "documents": ["a", "b"]]),
                            .failedDependency, "Backend", mentioning: "3 scores for 2 texts")
        }
    }

    @Test func unknownRouteIsJSON404() async throws {
        try await app().test(.router) { client in
            let response = try await client.get("/embed")
            #expect(response.status == .notFound)
            #expect(try errorBody(response) != nil)
        }
    }

    @Test func invalidConfigurationIsRefused() {
        #expect(throws: ServiceConfigurationError.self) {
            _ = try RerankService.makeApplication(
                engine: TokenOverlapEngine(), configuration: .init(maxConcurrentRequests: 0), logger: quietLogger)
        }
    }
}
