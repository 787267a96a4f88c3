import Foundation
import Hummingbird
import HummingbirdTesting
import ListConRanker
import ListConRankerStore
import Testing
@testable import ListConRankerServer

/// The tiny model's engine, holding each `pooledVectors` call at a gate once `hold` is set.
final class GatedVectorEngine: PooledVectorEngine, @unchecked Sendable {
    let base: RerankerEngine
    let gate = Gate()
    let started = Counter()
    private let lock = NSLock()
    private var holding = false

    init(base: RerankerEngine) { self.base = base }

    /// From now on, encoding waits until ``gate`` opens.
    func hold() { lock.withLock { holding = true } }

    var modelName: String { base.modelName }
    var precision: String { base.precision }
    var maxInputLength: Int { base.maxInputLength }
    var hiddenSize: Int { base.hiddenSize }
    func tokenCount(_ text: String) -> Int { base.tokenCount(text) }
    func encoderIdentity() async throws -> String { try await base.encoderIdentity() }
    func scores(query: String, texts: [String], raw: Bool, iterative: Bool) async throws -> [Float] {
        try await base.scores(query: query, texts: texts, raw: raw, iterative: iterative)
    }
    func scores(query: String, passageVectors: [[Float]], raw: Bool, iterative: Bool) async throws -> [Float] {
        try await base.scores(query: query, passageVectors: passageVectors, raw: raw, iterative: iterative)
    }
    func pooledVectors(for texts: [String]) async throws -> [[Float]] {
        started.increment()
        if lock.withLock({ holding }) { await gate.wait() }
        return try await base.pooledVectors(for: texts)
    }
}

/// `POST /v1/index` reads the stored hashes, waits for the model, encodes, then writes: a
/// `DELETE` of the same id sent meanwhile must not be undone by that write.
@Suite struct IndexDeleteRaceTests {
    @Test func aDeleteDuringAnIndexOfTheSameIDStaysDeleted() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let engine = GatedVectorEngine(base: try TinyModel.engine())
        let configuration = ServiceConfiguration(
            featureStore: .sqlite(path: directory.path("features.sqlite")), apiKey: testAPIKey, vectorCacheMegabytes: 0)
        let app = try RerankService.makeApplication(engine: engine, configuration: configuration, logger: quietLogger)
        try await app.test(.router) { client in
            #expect(try await client.index([("a", "旧的文字：多喝水")]).status == .ok)
            engine.hold()
            let before = engine.started.value
            async let indexing = client.index([("a", "新的文字：少吃盐")])
            // The index request now holds its read hashes and waits in the encoder.
            #expect(await eventually { engine.started.value > before })
            async let deleting = client.delete("/v1/index/a", key: testAPIKey)
            try await Task.sleep(for: .milliseconds(300))   // time for a delete that does not wait to finish
            await engine.gate.open()
            let (indexed, deleted) = try await (indexing, deleting)
            #expect(indexed.status == .ok)
            #expect(deleted.status == .ok)
            #expect((try parsed(deleted.body) as? [String: Any])?["deleted"] as? Bool == true)
            // The delete came last: the id is gone, not brought back by the index's write.
            let rerank = try await client.post("/v1/rerank", ["query": "水", "document_ids": ["a"]])
            #expect(rerank.status == .unprocessableContent, "the index request undid the delete")
        }
    }
}
