import Foundation
import Hummingbird
import HummingbirdTesting
import ListConRanker
import ListConRankerStore
@testable import ListConRankerServer

/// The tiny fixture checkpoint, shared by the feature store and vector cache route tests.
enum TinyModel {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ListConRankerTests/Fixtures/tiny-model")

    static func engine() throws -> RerankerEngine {
        RerankerEngine(reranker: try Reranker(modelDirectory: directory), modelName: "tiny-model")
    }
}

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("lcr-server-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

let testAPIKey = "test-key-0123456789"

extension TestClientProtocol {
    /// POSTs `object` as JSON with `Authorization: Bearer key` (no header when key is nil).
    func post(_ uri: String, _ object: Any, key: String?) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await execute(uri: uri, method: .post, headers: headers, body: json(object))
    }

    func delete(_ uri: String, key: String?) async throws -> TestResponse {
        var headers = HTTPFields()
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await execute(uri: uri, method: .delete, headers: headers)
    }

    /// Indexes `documents` ([(id, text)]) with the test key; the response's counts.
    func index(_ documents: [(String, String)]) async throws -> (status: HTTPResponse.Status, counts: [String: Int]) {
        let response = try await post(
            "/v1/index", ["documents": documents.map { ["id": $0.0, "text": $0.1] }], key: testAPIKey)
        return (response.status, (try? parsed(response.body) as? [String: Int]) ?? [:])
    }

    /// `POST /v1/rerank` by ids or by documents: (index, score, id) best first, or the error response.
    func cohere(_ body: [String: Any]) async throws -> (results: [(index: Int, score: Float, id: String?)], response: TestResponse) {
        let response = try await post("/v1/rerank", body)
        guard response.status == .ok,
              let object = try parsed(response.body) as? [String: Any],
              let results = object["results"] as? [[String: Any]]
        else { return ([], response) }
        return (results.map { ($0["index"] as? Int ?? -1, Float($0["relevance_score"] as? Double ?? .nan), $0["id"] as? String) },
                response)
    }

    /// The value of an unlabelled sample on /metrics, or nil.
    func metric(_ name: String) async throws -> Double? {
        let text = String(buffer: try await get("/metrics").body)
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1))
        }
        return nil
    }
}

/// Passages about different things, so the tiny model gives them distinct scores.
func samplePassages(_ count: Int) -> [String] {
    (0..<count).map { "第\($0)条：多吃蔬菜，少吃盐，每天散步\($0 % 7)公里，睡眠\($0 % 5)小时。" }
}

/// Element-wise closeness of two score lists.
func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
