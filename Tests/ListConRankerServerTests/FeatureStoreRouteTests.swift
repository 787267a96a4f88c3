import Foundation
import Hummingbird
import HummingbirdTesting
import ListConRanker
import ListConRankerStore
import Logging
import Testing
@testable import ListConRankerServer

/// `document_ids` on `POST /v1/rerank` and the index routes, on the tiny model and an SQLite
/// store in a temporary directory.
@Suite("Feature store routes (SQLite)")
struct FeatureStoreRouteTests {
    let engine: RerankerEngine
    let directory: TemporaryDirectory

    init() throws {
        engine = try TinyModel.engine()
        directory = try TemporaryDirectory()
    }

    func configuration(apiKey: String? = testAPIKey, cacheMB: Int = 64) -> ServiceConfiguration {
        ServiceConfiguration(
            featureStore: .sqlite(path: directory.path("features.sqlite")), apiKey: apiKey,
            vectorCacheMegabytes: cacheMB)
    }

    func app(_ configuration: ServiceConfiguration) throws -> some ApplicationProtocol {
        try RerankService.makeApplication(engine: engine, configuration: configuration, logger: quietLogger)
    }

    /// Stored passages rank as the same passages sent inline (and as the library ranks them):
    /// same order, scores within 1e-6, conventional (4) and iterative (30) inference.
    @Test(arguments: [4, 30]) func documentIDsRankAsInlineDocuments(passageCount: Int) async throws {
        defer { directory.remove() }
        let query = "高血压患者应该注意什么？"
        let passages = samplePassages(passageCount)
        let ids = passages.indices.map { "doc-\($0)" }
        let library = try Reranker(modelDirectory: TinyModel.directory).rerank(query: query, passages: passages)
        // Inline documents without the cache: the plain text path.
        let inline = try await app(configuration(cacheMB: 0)).test(.router) { client in
            try await client.cohere(["query": query, "documents": passages]).results
        }
        let stored = try await app(configuration()).test(.router) { client in
            let indexed = try await client.index(Array(zip(ids, passages)))
            #expect(indexed.status == .ok)
            #expect(indexed.counts == ["indexed": passageCount, "unchanged": 0, "duplicates": 0])
            let (results, response) = try await client.cohere(["query": query, "document_ids": ids])
            #expect(response.status == .ok)
            let body = try #require(try parsed(response.body) as? [String: Any])
            // Only the query was encoded.
            #expect((body["usage"] as? [String: Int])?["total_tokens"] == engine.tokenCount(query))
            return results
        }
        #expect(stored.count == passageCount)
        #expect(stored.map(\.index) == inline.map(\.index))
        #expect(stored.map(\.index) == library.map(\.index))
        #expect(stored.map(\.id) == stored.map { "doc-\($0.index)" })
        #expect(maxDifference(stored.map(\.score), inline.map(\.score)) <= 1e-6)
        #expect(maxDifference(stored.map(\.score), library.map(\.score)) <= 1e-6)
    }

    @Test func unknownIDsAreNamedAndReturnDocumentsIsRefused() async throws {
        defer { directory.remove() }
        try await app(configuration()).test(.router) { client in
            #expect(try await client.index([("known", "一段已经索引的文字")]).status == .ok)
            let unknown = try await client.post(
                "/v1/rerank", ["query": "文字", "document_ids": ["known", "nope-1", "nope-2", "nope-1"]])
            #expect(unknown.status == .unprocessableContent)
            let error = try #require(try errorBody(unknown))
            #expect(error.type == "Validation")
            #expect(error.error.contains(#"2 id(s) the feature store does not hold: "nope-1", "nope-2""#))

            let withDocuments = try await client.post(
                "/v1/rerank", ["query": "文字", "document_ids": ["known"], "return_documents": true])
            #expect(withDocuments.status == .unprocessableContent)
            #expect(try errorBody(withDocuments)?.error.contains("`return_documents` is not available with `document_ids`") == true)

            let both = try await client.post("/v1/rerank", ["query": "q", "document_ids": ["known"], "documents": ["x"]])
            #expect(both.status == .unprocessableContent)
            let emptyID = try await client.post("/v1/rerank", ["query": "q", "document_ids": ["known", ""]])
            #expect(try errorBody(emptyID)?.error == "`document_ids[1]` is empty")
        }
    }

    @Test func documentIDsNeedAStore() async throws {
        defer { directory.remove() }
        try await app(ServiceConfiguration()).test(.router) { client in
            let response = try await client.post("/v1/rerank", ["query": "q", "document_ids": ["a"]])
            #expect(response.status == .unprocessableContent)
            #expect(try errorBody(response)?.error.contains("needs a feature store") == true)
        }
    }

    @Test func indexRoutesNeedTheKey() async throws {
        defer { directory.remove() }
        let document = ["documents": [["id": "a", "text": "文字"]]]
        try await app(configuration()).test(.router) { client in
            let missing = try await client.post("/v1/index", document, key: nil)
            #expect(missing.status == .unauthorized)
            #expect(missing.headers[.wwwAuthenticate] == "Bearer")
            #expect(try errorBody(missing)?.type == "Unauthorized")
            let wrong = try await client.post("/v1/index", document, key: testAPIKey + "x")
            #expect(wrong.status == .unauthorized)
            #expect(try errorBody(wrong)?.error.contains("wrong API key") == true)
            #expect(try await client.delete("/v1/index/a", key: "nope").status == .unauthorized)
            #expect(try await client.post("/v1/index", document, key: testAPIKey).status == .ok)
        }
        // Without a key the routes that change data do not exist.
        try await app(configuration(apiKey: nil)).test(.router) { client in
            let response = try await client.post("/v1/index", document, key: testAPIKey)
            #expect(response.status == .notFound)
            #expect(try await client.delete("/v1/index/a", key: testAPIKey).status == .notFound)
            // Reranking by id still works: reading the store changes nothing.
            #expect(try await client.cohere(["query": "文字", "document_ids": ["a"]]).response.status == .ok)
        }
    }

    @Test func unchangedTextsAreSkippedDuplicatesCountedAndDeletesWork() async throws {
        defer { directory.remove() }
        try await app(configuration()).test(.router) { client in
            let first = try await client.index([("a", "苹果"), ("b", "香蕉"), ("a", "橙子")])
            #expect(first.counts == ["indexed": 2, "unchanged": 0, "duplicates": 1])
            // The last text given for "a" is the one stored.
            #expect(try await client.index([("a", "橙子"), ("b", "香蕉")]).counts == ["indexed": 0, "unchanged": 2, "duplicates": 0])
            #expect(try await client.index([("a", "苹果"), ("c", "葡萄")]).counts == ["indexed": 2, "unchanged": 0, "duplicates": 0])

            let emptyText = try await client.post(
                "/v1/index", ["documents": [["id": "d", "text": "x"], ["id": "e", "text": "  "]]], key: testAPIKey)
            #expect(emptyText.status == .unprocessableContent)
            #expect(try errorBody(emptyText)?.error == "`documents[1].text` is empty")
            let emptyID = try await client.post("/v1/index", ["documents": [["id": "", "text": "x"]]], key: testAPIKey)
            #expect(try errorBody(emptyID)?.error == "`documents[0].id` is empty")
            // Nothing of a refused request was written.
            #expect(try await client.cohere(["query": "q", "document_ids": ["d"]]).response.status == .unprocessableContent)

            let deleted = try await client.delete("/v1/index/a", key: testAPIKey)
            #expect(deleted.status == .ok)
            #expect(try deleteResult(deleted) == "a deleted: true")
            let again = try await client.delete("/v1/index/a", key: testAPIKey)
            #expect(try deleteResult(again) == "a deleted: false")
            let gone = try await client.post("/v1/rerank", ["query": "水果", "document_ids": ["a", "b"]])
            #expect(try errorBody(gone)?.error.contains(#"1 id(s) the feature store does not hold: "a""#) == true)

            // Ids with characters a path must escape.
            #expect(try await client.index([("x/y z", "西瓜")]).counts["indexed"] == 1)
            let escaped = try await client.delete("/v1/index/x%2Fy%20z", key: testAPIKey)
            #expect(try deleteResult(escaped) == "x/y z deleted: true")
        }
    }

    /// A store written for another encoder stops the service from starting, with the store's error.
    @Test func aStoreOfAnotherEncoderIsRefusedAtStart() async throws {
        defer { directory.remove() }
        let location = FeatureStoreLocation.sqlite(path: directory.path("other.sqlite"))
        let other = try await location.open(configuration: .init(encoderIdentity: "another-encoder", dimension: engine.hiddenSize))
        try await other.close()
        let engine = self.engine
        let loader = EngineLoadingService(
            slot: EngineSlot(), load: { engine }, logger: quietLogger,
            store: FeatureStoreSlot(location: location, logger: quietLogger))
        do {
            try await loader.run()
            Issue.record("the service started on another encoder's store")
        } catch let error as FeatureStoreError {
            guard case .encoderMismatch = error else {
                Issue.record("expected encoderMismatch, got \(error)")
                return
            }
            #expect(error.description.contains("another-encoder"))
        }
    }
}

/// `{"id", "deleted"}` of a `DELETE /v1/index/{id}` response, as "ID deleted: BOOL".
private func deleteResult(_ response: TestResponse) throws -> String? {
    guard let object = try parsed(response.body) as? [String: Any],
          let id = object["id"] as? String, let deleted = object["deleted"] as? Bool
    else { return nil }
    return "\(id) deleted: \(deleted)"
}
