import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import HummingbirdTesting
import ServiceLifecycle
import Testing
@testable import ListConRankerServer

/// A client that goes away while its request waits for the model gives its place back at once,
/// instead of holding it (and making others get 429) until its turn.
@Suite("Client disconnect")
struct ClientDisconnectTests {
    /// The queue itself: a waiting request whose task is cancelled leaves the line, its place
    /// returns, and the running request keeps the turn.
    @Test func aCancelledWaiterLeavesTheQueue() async throws {
        let queue = InferenceQueue(capacity: 2)
        let gate = Gate()
        async let held: Int = queue.run { await gate.wait(); return 1 }
        #expect(await eventually { await queue.admitted == 1 })
        let waiter = Task { try await queue.run { 2 } }
        #expect(await eventually { await queue.admitted == 2 })
        waiter.cancel()
        // Checked before the gate opens: until then the turn is held, so only leaving frees the place.
        #expect(await eventually { await queue.admitted == 1 }, "the cancelled request kept its place")
        await gate.open()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(try await held == 1)
        #expect(try await queue.run { 3 } == 3)
        #expect(await queue.admitted == 0)
    }

    /// Sends `request` on a new TCP connection to 127.0.0.1:`port`; returns the socket, for the
    /// caller to close without reading.
    static func send(_ request: String, port: Int) throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(descriptor >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0, "connect: \(errno)")
        let bytes = Array(request.utf8)
        try #require(Glibc.send(descriptor, bytes, bytes.count, 0) == bytes.count)
        return descriptor
    }

    /// A real server: one request holds the model, a second waits behind it and its client hangs
    /// up. The queue depth drops back to 1 while the first still runs (before: the second kept
    /// its place until its turn came).
    @Test func aClientThatHangsUpWhileQueuedGivesItsPlaceBack() async throws {
        let gate = Gate()
        let engine = RecordingEngine(gate: gate)
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = try RerankService.makeApplication(
            slot: EngineSlot(engine: engine), loader: nil,
            configuration: .init(port: 0, maxConcurrentRequests: 2), logger: quietLogger,
            onServerRunning: { portContinuation.yield($0) })
        let group = ServiceGroup(configuration: .init(services: [app], logger: quietLogger))
        let body = try json(["query": "capital", "texts": ["the capital", "a river"]])
        let text = #"{"query": "capital", "texts": ["the capital", "a river"]}"#

        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var portIterator = ports.makeAsyncIterator()
            let port = try #require(await portIterator.next())
            func depth() async throws -> String {
                try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                    let metrics = String(buffer: try await client.get("/metrics").body ?? ByteBuffer())
                    return metrics.split(separator: "\n").first { $0.hasPrefix("listconranker_queue_depth_requests ") }
                        .map(String.init) ?? "none"
                }
            }

            let first = Task {
                try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                    try await client.post("/rerank", body: body).status
                }
            }
            #expect(await eventually { engine.started == 1 })
            let second = try Self.send("POST /rerank HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                           + "Content-Length: \(text.utf8.count)\r\n\r\n\(text)", port: port)
            #expect(try await eventually { try await depth() == "listconranker_queue_depth_requests 2.0" })
            close(second)   // the client hangs up while queued
            #expect(try await eventually { try await depth() == "listconranker_queue_depth_requests 1.0" },
                    "the hung-up request kept its place")
            #expect(engine.started == 1)
            await gate.open()
            #expect(try await first.value == .ok)
            try await Task.sleep(for: .milliseconds(100))
            #expect(engine.calls.count == 1, "the hung-up request reached the model")
            // Connections still live on after a response (the watcher does not end them).
            let again = try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                [try await client.post("/rerank", body: body).status, try await client.post("/rerank", body: body).status]
            }
            #expect(again == [.ok, .ok])
            await group.triggerGracefulShutdown()
            try await tasks.next()
        }
    }
}
