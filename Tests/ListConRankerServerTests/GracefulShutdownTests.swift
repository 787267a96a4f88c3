import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceLifecycle
import Testing
@testable import ListConRankerServer
import ListConRankerFakeEngine

@Suite("Graceful shutdown")
struct GracefulShutdownTests {
    /// What SIGTERM triggers (ServiceGroup's graceful shutdown): the running request and the one
    /// queued behind it both complete, then the service returns.
    @Test func shutdownDrainsRunningAndQueuedRequests() async throws {
        // The gate holds the first request in the engine until shutdown has begun, so both
        // requests are in flight when it does, however slow the machine.
        let gate = Gate()
        let engine = RecordingEngine(gate: gate)
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = try RerankService.makeApplication(
            slot: EngineSlot(engine: engine), loader: nil,
            configuration: .init(port: 0), logger: quietLogger,
            onServerRunning: { portContinuation.yield($0) })
        let group = ServiceGroup(configuration: .init(services: [app], logger: quietLogger))
        let body = try json(["query": "capital", "texts": ["the capital", "a river"]])

        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var portIterator = ports.makeAsyncIterator()
            let port = try #require(await portIterator.next())

            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { requests in
                for _ in 0..<2 {
                    requests.addTask {
                        try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                            try await client.post("/rerank", body: body).status
                        }
                    }
                }
                // Both admitted: one in the engine, one queued behind it.
                #expect(await eventually { engine.started == 1 })
                #expect(try await eventually {
                    try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                        String(buffer: try await client.get("/metrics").body ?? ByteBuffer())
                            .contains("listconranker_queue_depth_requests 2.0")
                    }
                })
                await group.triggerGracefulShutdown()
                await gate.open()
                return try await requests.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == [.ok, .ok])
            try await tasks.next()  // the service group returned
        }
        #expect(engine.calls.count == 2)
    }

    @Test func shutdownWhileLoadingEndsCleanly() async throws {
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let slot = EngineSlot()
        let loader = EngineLoadingService(
            slot: slot,
            load: {
                try await Task.sleep(for: .seconds(60))
                return TokenOverlapEngine()
            },
            logger: quietLogger)
        let app = try RerankService.makeApplication(
            slot: slot, loader: loader, configuration: .init(port: 0), logger: quietLogger,
            onServerRunning: { portContinuation.yield($0) })
        let group = ServiceGroup(configuration: .init(services: [app], logger: quietLogger))
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var portIterator = ports.makeAsyncIterator()
            _ = await portIterator.next()
            await group.triggerGracefulShutdown()
            try await tasks.next()  // returns without error, long before the 60 s load
        }
        #expect(ContinuousClock.now - start < .seconds(10))
        #expect(await slot.engine == nil)
    }
}
