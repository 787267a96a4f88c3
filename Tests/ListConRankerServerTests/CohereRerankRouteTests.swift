import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import ListConRankerServer
import ListConRankerFakeEngine

@Suite("POST /v1/rerank (Cohere / Jina shape)")
struct CohereRerankRouteTests {
    func app(_ engine: any RerankEngine) throws -> some ApplicationProtocol {
        try RerankService.makeApplication(engine: engine, configuration: .init(), logger: quietLogger)
    }

    @Test func ranksMixedDocumentShapesWithTopNAndDocuments() async throws {
        let engine = RecordingEngine()
        let query = "capital of france"
        let body = try json([
            "model": "ByteDance/ListConRanker", "query": query,
            "documents": ["berlin is in germany", ["text": "paris is the capital of france"], "the capital city"],
            "top_n": 2, "return_documents": true,
        ])
        try await app(engine).test(.router) { client in
            let response = try await client.post("/v1/rerank", body: body)
            #expect(response.status == .ok)
            let body = try #require(try parsed(response.body) as? [String: Any])
            #expect((body["id"] as? String)?.isEmpty == false)
            #expect(body["model"] as? String == "token-overlap-fake")
            let results = try #require(body["results"] as? [[String: Any]])
            #expect(results.map { $0["index"] as? Int } == [1, 2])
            #expect((results[0]["document"] as? [String: String])?["text"] == "paris is the capital of france")
            let best = try #require(results[0]["relevance_score"] as? Double)
            #expect(abs(best - 1 / (1 + exp(-4))) < 1e-6)
            let meta = try #require(body["meta"] as? [String: Any])
            #expect((meta["billed_units"] as? [String: Int])?["search_units"] == 1)
            // Tokens are characters + 2, summed over the query and every document.
            let expectedTokens = ([query] + ["berlin is in germany", "paris is the capital of france", "the capital city"])
                .map { $0.count + 2 }.reduce(0, +)
            #expect((body["usage"] as? [String: Int])?["total_tokens"] == expectedTokens)
        }
        #expect(engine.calls.first?.texts[1] == "paris is the capital of france")
        #expect(engine.calls.first?.raw == false)
    }

    @Test func leavesDocumentsOutByDefaultAndIteratesLongLists() async throws {
        let engine = RecordingEngine()
        let documents = (0..<30).map { "document \($0)" }
        try await app(engine).test(.router) { client in
            let response = try await client.post("/v1/rerank", ["query": "document 7", "documents": documents])
            #expect(response.status == .ok)
            let body = try #require(try parsed(response.body) as? [String: Any])
            let results = try #require(body["results"] as? [[String: Any]])
            #expect(results.count == 30)
            #expect(results.allSatisfy { $0["document"] == nil })
            #expect(results.first?["index"] as? Int == 7)
        }
        #expect(engine.calls.map(\.iterative) == [true])
    }

    @Test func truncatesLongDocumentsInsteadOfRefusing() async throws {
        let long = String(repeating: "z", count: 700)
        try await app(TokenOverlapEngine()).test(.router) { client in
            let response = try await client.post("/v1/rerank", ["query": "q", "documents": [long]])
            #expect(response.status == .ok)
            let body = try #require(try parsed(response.body) as? [String: Any])
            #expect((body["usage"] as? [String: Int])?["total_tokens"] == 3 + 512)
        }
    }

    @Test func refusesBadDocumentsAndTopN() async throws {
        try await app(TokenOverlapEngine()).test(.router) { client in
            let badDocument = try await client.post("/v1/rerank", ["query": "q", "documents": ["a", ["content": "b"]]])
            #expect(badDocument.status == .unprocessableContent)
            #expect(try errorBody(badDocument)?.error.contains("`documents[1]`: expected a string or an object") == true)

            let zero = try await client.post("/v1/rerank", ["query": "q", "documents": ["a"], "top_n": 0])
            #expect(zero.status == .unprocessableContent)
            #expect(try errorBody(zero)?.error.contains("`top_n` must be at least 1") == true)
        }
    }
}
