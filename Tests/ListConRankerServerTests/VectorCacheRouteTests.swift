import Foundation
import Hummingbird
import HummingbirdTesting
import ListConRanker
import Testing
@testable import ListConRankerServer

/// The in-memory cache of pooled vectors keyed by text, behind every rerank route.
@Suite("Vector cache")
struct VectorCacheRouteTests {
    func app(_ engine: RerankerEngine, cacheMB: Int = 64) throws -> some ApplicationProtocol {
        try RerankService.makeApplication(
            engine: engine, configuration: .init(vectorCacheMegabytes: cacheMB), logger: quietLogger)
    }

    /// A repeated request encodes only its query again, counts its passages as hits, and scores
    /// as the uncached library does (within 1e-6), conventionally and iteratively.
    @Test(arguments: [4, 30]) func repeatedPassagesAreNotEncodedAgain(passageCount: Int) async throws {
        let engine = try TinyModel.engine()
        let query = "高血压患者应该注意什么？"
        let passages = samplePassages(passageCount)
        let expected = try Reranker(modelDirectory: TinyModel.directory).rerank(query: query, passages: passages)
        try await app(engine).test(.router) { client in
            var runs: [[(index: Int, score: Float)]] = []
            for round in 1...2 {
                let response = try await client.post("/rerank", ["query": query, "texts": passages])
                #expect(response.status == .ok)
                let results = try #require(try parsed(response.body) as? [[String: Any]])
                runs.append(results.map { ($0["index"] as? Int ?? -1, Float($0["score"] as? Double ?? .nan)) })
                // Round 1: every passage and the query; round 2: the query alone.
                #expect(engine.reranker.encoderTextCount == passageCount + round)
            }
            #expect(try await client.metric("listconranker_vector_cache_misses_total") == Double(passageCount))
            #expect(try await client.metric("listconranker_vector_cache_hits_total") == Double(passageCount))
            #expect(try await client.metric("listconranker_vector_cache_entries_texts") == Double(passageCount))
            #expect(try await client.metric("listconranker_vector_cache_bytes") ?? 0 > 0)
            for run in runs {
                #expect(run.map(\.index) == expected.map(\.index))
                #expect(maxDifference(run.map(\.score), expected.map(\.score)) <= 1e-6)
            }
            #expect(runs[0].map(\.score) == runs[1].map(\.score))

            // The Cohere route shares the cache: the same passages are hits there too.
            let cohere = try await client.cohere(["query": "另一个问题", "documents": passages])
            #expect(cohere.response.status == .ok)
            #expect(try await client.metric("listconranker_vector_cache_hits_total") == Double(2 * passageCount))
        }
    }

    @Test func rawScoresThroughTheCacheAreTheLibraryLogits() async throws {
        let engine = try TinyModel.engine()
        let query = "明天会下雨吗"
        let texts = ["天气预报说明天有雨", "我们去公园散步", "天气预报说明天有雨"]
        let logits = try Reranker(modelDirectory: TinyModel.directory).logits(query: query, passages: texts)
        try await app(engine).test(.router) { client in
            for _ in 0..<2 {
                let response = try await client.post("/rerank", ["query": query, "texts": texts, "raw_scores": true])
                let results = try #require(try parsed(response.body) as? [[String: Any]])
                var scores = [Float](repeating: .nan, count: texts.count)
                for result in results { scores[result["index"] as? Int ?? 0] = Float(result["score"] as? Double ?? .nan) }
                #expect(maxDifference(scores, logits) <= 1e-6)
            }
            // The repeated text is one entry, looked up once per request.
            #expect(try await client.metric("listconranker_vector_cache_misses_total") == 2)
            #expect(try await client.metric("listconranker_vector_cache_hits_total") == 2)
        }
    }

    @Test func zeroMegabytesTurnsTheCacheOff() async throws {
        let engine = try TinyModel.engine()
        try await app(engine, cacheMB: 0).test(.router) { client throws in
            for _ in 0..<2 {
                let response = try await client.post("/rerank", ["query": "q", "texts": ["a", "b"]])
                #expect(response.status == .ok)
            }
            #expect(engine.reranker.encoderTextCount == 6)
            let hits = try await client.metric("listconranker_vector_cache_hits_total")
            #expect(hits == 0)
        }
    }

    @Test func evictsTheLeastRecentlyUsedWithinItsBudget() {
        let vector = [Float](repeating: 1, count: 8)
        let entry = VectorCache.cost(text: "a", vector: vector)
        let cache = VectorCache(capacityBytes: 2 * entry)
        cache.insert("a", vector: vector)
        cache.insert("b", vector: vector)
        _ = cache.vectors(for: ["a"])          // "b" is now the least recently used
        cache.insert("c", vector: vector)
        #expect(cache.vectors(for: ["a", "b", "c"]).map { $0 != nil } == [true, false, true])
        #expect(cache.bytes == 2 * entry)
        cache.insert("a", vector: [2] + vector.dropFirst())   // replacing keeps one entry
        #expect(cache.count == 2)
        #expect(cache.vectors(for: ["a"]).first??.first == 2)
        let huge = VectorCache(capacityBytes: entry - 1)
        huge.insert("a", vector: vector)
        #expect(huge.count == 0)
    }
}
