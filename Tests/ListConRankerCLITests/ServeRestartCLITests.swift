import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// Issue 17: a service killed with SIGKILL in the middle of indexing starts again on the same
/// feature store without manual steps, and serves what was stored.
@Suite struct ServeRestartCLITests {
    /// A `serve` process on a free loopback port with a store and an API key; returns it and its port.
    func start(store: String, log: URL) throws -> (Process, Int) {
        try ServeProcess.start(["--model", CLIFixtures.tinyModel, "--precision", "fp32", "--store", store,
                                "--api-key", "secret"], log: log)
    }

    @Test func aKilledServiceServesAgainOnItsStore() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = directory.url.appendingPathComponent("features.sqlite").path
        let (first, port) = try start(store: store, log: directory.url.appendingPathComponent("first.log"))
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }

        let stored = ["documents": [["id": "a", "text": "多吃蔬菜"], ["id": "b", "text": "今天天气很好"]]]
        let (indexed, _) = try Self.send("POST", port: port, path: "/v1/index", body: stored, key: "secret")
        #expect(indexed == 200)
        // More indexing in flight, then SIGKILL: no chance to close the store or flush anything.
        let many = ["documents": (0..<200).map { ["id": "p\($0)", "text": "第\($0)段文字，关于蔬菜和天气"] }]
        let background = Thread {
            _ = try? Self.send("POST", port: port, path: "/v1/index", body: many, key: "secret")
        }
        background.start()
        Thread.sleep(forTimeInterval: 0.2)
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(first.terminationReason == .uncaughtSignal)

        let (second, newPort) = try start(store: store, log: directory.url.appendingPathComponent("second.log"))
        defer {
            second.terminate()
            second.waitUntilExit()
        }
        let (status, body) = try Self.send("POST", port: newPort, path: "/v1/rerank",
                                           body: ["query": "蔬菜", "document_ids": ["a", "b"]])
        #expect(status == 200, "\(String(decoding: body, as: UTF8.self))")
        struct Response: Decodable { struct Result: Decodable { let index: Int }; let results: [Result] }
        let results = try JSONDecoder().decode(Response.self, from: body).results
        #expect(results.map(\.index).sorted() == [0, 1])
    }

    static func send(_ method: String, port: Int, path: String, body: [String: Any]? = nil,
                     key: String? = nil) throws -> (Int, Data) {
        try ServeProcess.send(method, port: port, path: path, body: body, key: key)
    }
}
