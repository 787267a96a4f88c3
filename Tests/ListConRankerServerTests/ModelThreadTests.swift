import Foundation
import ListConRanker
import Testing
@testable import ListConRankerServer

@Suite("Model thread")
struct ModelThreadTests {
    static let modelDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ListConRankerTests/Fixtures/tiny-model")

    /// Every engine used to leak its thread: a service that reloads, or a test suite that makes
    /// many engines, kept one parked thread per engine for ever.
    @Test func theThreadEndsWithItsEngine() async throws {
        // This engine's own thread, not the process-wide count: other tests' engines start and
        // end their threads concurrently, which made a count comparison flaky.
        var thread: ModelThread?
        do {
            let engine = RerankerEngine(reranker: try Reranker(modelDirectory: Self.modelDirectory), modelName: "tiny")
            thread = engine.modelThread
            #expect(thread?.hasExited == false)
            let scores = try await engine.scores(query: "高血压", texts: ["多吃蔬菜", "天气"], raw: false, iterative: true)
            #expect(scores.count == 2)
        }
        #expect(await eventually { thread?.hasExited == true }, "the engine's thread is still running")
    }

    @Test func jobsQueuedBeforeStopStillRunAndLaterOnesAreRefused() async throws {
        let thread = ModelThread(name: "test")
        let value = try await thread.run { 42 }
        #expect(value == 42)
        thread.stop()
        await #expect(throws: CancellationError.self) { try await thread.run { 1 } }
    }
}
