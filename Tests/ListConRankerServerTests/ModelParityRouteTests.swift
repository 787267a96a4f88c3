import Foundation
import Hummingbird
import HummingbirdTesting
import ListConRanker
import Testing
@testable import ListConRankerServer

/// The service in front of the real model (the tiny fixture checkpoint): what a request
/// returns equals the library's `rerank` on the same input.
@Suite("Service scores equal the library's")
struct ModelParityRouteTests {
    static let modelDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ListConRankerTests/Fixtures/tiny-model")

    let reranker: Reranker
    let engine: RerankerEngine

    init() throws {
        reranker = try Reranker(modelDirectory: Self.modelDirectory)
        engine = RerankerEngine(reranker: try Reranker(modelDirectory: Self.modelDirectory), modelName: "tiny-model")
    }

    func app() throws -> some ApplicationProtocol {
        try RerankService.makeApplication(engine: engine, configuration: .init(), logger: quietLogger)
    }

    @Test(arguments: [4, 30]) func teiRerankEqualsLibraryRerank(passageCount: Int) async throws {
        let query = "高血压患者应该注意什么？"
        let texts = (0..<passageCount).map { "第\($0)条：多吃蔬菜，少吃盐，每天散步\($0 % 7)公里。" }
        let expected = try reranker.rerank(query: query, passages: texts)
        try await app().test(.router) { client in
            let response = try await client.post("/rerank", body: try json(["query": query, "texts": texts]))
            #expect(response.status == .ok)
            let results = try #require(try parsed(response.body) as? [[String: Any]])
            #expect(results.map { $0["index"] as? Int } == expected.map(\.index))
            for (result, ranked) in zip(results, expected) {
                let score = try #require(result["score"] as? Double)
                #expect(Float(score) == ranked.score)
            }
        }
    }

    @Test func cohereRerankEqualsLibraryRerankWithTopN() async throws {
        let query = "如何学习编程"
        let documents = ["多写代码，多读代码", "今天天气很好", "Python 是一种编程语言", "苹果和香蕉都是水果"]
        let expected = try reranker.rerank(query: query, passages: documents, topN: 2)
        try await app().test(.router) { client in
            let response = try await client.post("/v1/rerank", body: try json(["query": query, "documents": documents, "top_n": 2]))
            #expect(response.status == .ok)
            let body = try #require(try parsed(response.body) as? [String: Any])
            let results = try #require(body["results"] as? [[String: Any]])
            #expect(results.map { $0["index"] as? Int } == expected.map(\.index))
            #expect(zip(results, expected).allSatisfy { Float($0["relevance_score"] as? Double ?? -1) == $1.score })
        }
    }

    @Test func rawScoresAreTheLibraryLogits() async throws {
        let query = "明天会下雨吗"
        let texts = ["天气预报说明天有雨", "我们去公园散步"]
        let logits = try reranker.logits(query: query, passages: texts)
        try await app().test(.router) { client in
            let response = try await client.post("/rerank", body: try json(["query": query, "texts": texts, "raw_scores": true]))
            #expect(response.status == .ok)
            let results = try #require(try parsed(response.body) as? [[String: Any]])
            for result in results {
                let index = try #require(result["index"] as? Int)
                #expect(Float(result["score"] as? Double ?? .nan) == logits[index])
            }
        }
    }
}
