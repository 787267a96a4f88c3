import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import ListConRankerServer
import ListConRankerFakeEngine

@Suite("POST /rerank (TEI shape)")
struct TEIRerankRouteTests {
    let texts = ["berlin is in germany", "paris is the capital of france", "the capital city"]
    let query = "capital of france"

    func app(_ engine: any RerankEngine = TokenOverlapEngine(), _ configuration: ServiceConfiguration = .init()) throws -> some ApplicationProtocol {
        try RerankService.makeApplication(engine: engine, configuration: configuration, logger: quietLogger)
    }

    func ranks(_ response: TestResponse) throws -> [[String: Any]] {
        try #require(try parsed(response.body) as? [[String: Any]])
    }

    @Test func ranksBestFirstWithSigmoidScores() async throws {
        let engine = TokenOverlapEngine()
        try await app(engine).test(.router) { client in
            let response = try await client.post("/rerank", ["query": query, "texts": texts])
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            let ranks = try ranks(response)
            #expect(ranks.map { $0["index"] as? Int } == [1, 2, 0])
            for rank in ranks {
                let index = try #require(rank["index"] as? Int)
                let score = try #require(rank["score"] as? Double)
                let expected = 1 / (1 + exp(-Double(engine.logit(query: query, text: texts[index]))))
                #expect(abs(score - expected) < 1e-6)
                #expect(rank["text"] == nil)
            }
        }
    }

    @Test func returnsTextAndRawLogitsWhenAsked() async throws {
        try await app().test(.router) { client in
            let response = try await client.post(
                "/rerank", ["query": query, "texts": texts, "return_text": true, "raw_scores": true])
            #expect(response.status == .ok)
            let ranks = try ranks(response)
            // All three query words in text 1: logit 8·1 − 4; none in text 0: −4.
            #expect(ranks.first?["score"] as? Double == 4)
            #expect(ranks.last?["score"] as? Double == -4)
            for rank in ranks {
                let index = try #require(rank["index"] as? Int)
                #expect(rank["text"] as? String == texts[index])
            }
        }
    }

    @Test func usesIterativeInferenceAboveTwentyTexts() async throws {
        let engine = RecordingEngine()
        let many = (0..<25).map { "text \($0) about " + ($0 % 3 == 0 ? "capital of france" : "rivers") }
        try await app(engine).test(.router) { client in
            let twenty = try await client.post("/rerank", ["query": query, "texts": Array(many.prefix(20))])
            #expect(twenty.status == .ok)
            let response = try await client.post("/rerank", ["query": query, "texts": many])
            #expect(response.status == .ok)
            let ranks = try ranks(response)
            #expect(ranks.count == 25)
            // Survivors of a round carry a round offset: scores above 1 only come from iterating.
            #expect((ranks.first?["score"] as? Double ?? 0) > 1)
            #expect(ranks.prefix(9).allSatisfy { ($0["index"] as? Int ?? 1) % 3 == 0 })
        }
        #expect(engine.calls.map(\.iterative) == [false, true])
    }

    @Test func refusesRawScoresWithIterativeInference() async throws {
        let engine = RecordingEngine()
        try await app(engine).test(.router) { client in
            let texts = (0..<21).map { "text \($0)" }
            let response = try await client.post("/rerank", ["query": query, "texts": texts, "raw_scores": true])
            #expect(response.status == .unprocessableContent)
            let error = try #require(try errorBody(response))
            #expect(error.type == "Validation")
            #expect(error.error.contains("raw_scores") && error.error.contains("21"))
        }
        #expect(engine.calls.isEmpty)
    }

    @Test func refusesTooLongTextUnlessTruncating() async throws {
        let engine = RecordingEngine()
        let long = String(repeating: "a", count: 600)  // 602 tokens > 512
        try await app(engine).test(.router) { client in
            let refused = try await client.post("/rerank", ["query": query, "texts": ["short", long]])
            #expect(refused.status == .contentTooLarge)
            let error = try #require(try errorBody(refused))
            #expect(error.type == "Validation")
            #expect(error.error.contains("`texts[1]` has 602 tokens") && error.error.contains("512"))

            let longQuery = try await client.post("/rerank", ["query": long, "texts": ["short"]])
            #expect(longQuery.status == .contentTooLarge)
            #expect(try errorBody(longQuery)?.error.contains("`query`") == true)

            let truncated = try await client.post("/rerank", ["query": query, "texts": ["short", long], "truncate": true])
            #expect(truncated.status == .ok)
            let right = try await client.post(
                "/rerank", ["query": query, "texts": ["short", long], "truncate": true, "truncation_direction": "Right"])
            #expect(right.status == .ok)
        }
        #expect(engine.calls.count == 2)
    }

    @Test func leftTruncationIsRefusedOnlyWhenItWouldCut() async throws {
        let long = String(repeating: "a", count: 600)
        try await app().test(.router) { client in
            let cutting = try await client.post(
                "/rerank", ["query": query, "texts": [long], "truncate": true, "truncation_direction": "Left"])
            #expect(cutting.status == .unprocessableContent)
            let error = try #require(try errorBody(cutting))
            #expect(error.type == "Validation" && error.error.contains("Left"))

            let fitting = try await client.post(
                "/rerank", ["query": query, "texts": texts, "truncate": true, "truncation_direction": "Left"])
            #expect(fitting.status == .ok)

            let unknown = try await client.post("/rerank", ["query": query, "texts": texts, "truncation_direction": "Up"])
            #expect(unknown.status == .unprocessableContent)
            #expect(try errorBody(unknown)?.error.contains("truncation_direction") == true)
        }
    }
}
