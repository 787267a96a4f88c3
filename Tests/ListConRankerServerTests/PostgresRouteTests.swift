import Foundation
import Hummingbird
import HummingbirdTesting
import ListConRanker
import ListConRankerStore
import Testing
@testable import ListConRankerServer

/// `document_ids` against a real PostgreSQL server, and the service through a database outage.
/// Serialized: the outage test stops the server. The tiny model's identity is the same in every
/// run, so each test uses ids of its own and deletes them.
@Suite("Feature store routes (PostgreSQL)", .serialized, .enabled(if: PostgresTestServer.shouldRun))
struct PostgresRouteTests {
    func app(_ engine: RerankerEngine) throws -> some ApplicationProtocol {
        let url = try #require(PostgresTestServer.url, Comment(rawValue: PostgresTestServer.missingMessage))
        return try RerankService.makeApplication(
            engine: engine,
            configuration: .init(featureStore: .postgres(url: url), apiKey: testAPIKey),
            logger: quietLogger)
    }

    @Test(arguments: [4, 30]) func documentIDsRankAsTheLibrary(passageCount: Int) async throws {
        let engine = try TinyModel.engine()
        let query = "高血压患者应该注意什么？"
        let passages = samplePassages(passageCount)
        let prefix = UUID().uuidString
        let ids = passages.indices.map { "\(prefix)-\($0)" }
        let library = try Reranker(modelDirectory: TinyModel.directory).rerank(query: query, passages: passages)
        try await app(engine).test(.router) { client in
            #expect(try await client.index(Array(zip(ids, passages))).counts["indexed"] == passageCount)
            let (results, response) = try await client.cohere(["query": query, "document_ids": ids])
            #expect(response.status == .ok)
            #expect(results.map(\.index) == library.map(\.index))
            #expect(maxDifference(results.map(\.score), library.map(\.score)) <= 1e-6)
            for id in ids { _ = try await client.delete("/v1/index/\(id)", key: testAPIKey) }
        }
    }

    /// PostgreSQL stops while serving: requests that need it get a JSON 503 Unavailable (those
    /// that do not keep working), and the first request after it is back succeeds.
    @Test(.enabled(if: PostgresTestServer.shouldRunOutage)) func anOutageIs503AndTheServiceRecovers() async throws {
        let stop = try #require(PostgresTestServer.stopCommand, Comment(rawValue: PostgresTestServer.missingOutageMessage))
        let start = try #require(PostgresTestServer.startCommand, Comment(rawValue: PostgresTestServer.missingOutageMessage))
        let engine = try TinyModel.engine()
        let id = "outage-\(UUID().uuidString)"
        try await app(engine).test(.router) { client in
            #expect(try await client.index([(id, "苹果和香蕉")]).status == .ok)
            #expect(try await client.cohere(["query": "水果", "document_ids": [id]]).response.status == .ok)

            try PostgresTestServer.run(stop)
            var restarted = false
            defer { if !restarted { try? PostgresTestServer.run(start) } }
            // First: the pooled connection is found dead; second: connecting is refused.
            for _ in 0..<2 {
                let response = try await client.post("/v1/rerank", ["query": "水果", "document_ids": [id]])
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "1")
                #expect(try errorBody(response)?.type == "Unavailable")
            }
            let index = try await client.post("/v1/index", ["documents": [["id": id, "text": "橙子"]]], key: testAPIKey)
            #expect(index.status == .serviceUnavailable)
            // Inline documents need no database.
            #expect(try await client.cohere(["query": "水果", "documents": ["苹果"]]).response.status == .ok)

            try PostgresTestServer.run(start)
            restarted = true
            #expect(try await client.cohere(["query": "水果", "document_ids": [id]]).response.status == .ok)
            #expect(try await client.delete("/v1/index/\(id)", key: testAPIKey).status == .ok)
        }
    }
}
