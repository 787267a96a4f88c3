import Foundation
import Testing
@testable import ListConRankerServer

@Suite("InferenceQueue")
struct InferenceQueueTests {
    @Test func refusesBeyondCapacityAndRunsOneAtATime() async throws {
        let queue = InferenceQueue(capacity: 1)
        let gate = Gate()
        async let held: Int = queue.run { await gate.wait(); return 1 }
        #expect(await eventually { await queue.admitted == 1 })
        await #expect(throws: ServiceError.self) { try await queue.run { 2 } }
        await gate.open()
        #expect(try await held == 1)
        #expect(try await queue.run { 3 } == 3)
        #expect(await queue.admitted == 0)
    }

    /// A full queue refuses before the request is prepared: the 429 costs no tokenization.
    @Test func preparesOnlyWhatItAdmits() async throws {
        let queue = InferenceQueue(capacity: 1)
        let gate = Gate()
        let prepared = Counter()
        async let held: Int = queue.run(preparing: { prepared.increment(); return 1 }) { value in
            await gate.wait()
            return value
        }
        #expect(await eventually { await queue.admitted == 1 })
        await #expect(throws: ServiceError.self) {
            try await queue.run(preparing: { prepared.increment(); return 2 }) { $0 }
        }
        #expect(prepared.value == 1)
        await gate.open()
        #expect(try await held == 1)
        #expect(try await queue.run(preparing: { prepared.increment(); return 3 }) { $0 } == 3)
        #expect(prepared.value == 2)
        #expect(await queue.admitted == 0)
    }

    /// A request refused while being prepared (a 413 found by tokenizing) gives its place back
    /// and leaves the turn with the request that holds it.
    @Test func aRefusalInPreparationGivesThePlaceBackAndKeepsTheTurn() async throws {
        struct Refused: Error {}
        let queue = InferenceQueue(capacity: 2)
        let gate = Gate()
        let overlap = Counter()
        let running = Counter()
        @Sendable func work(_ value: Int) async -> Int {
            if running.increment() > 1 { overlap.increment() }
            defer { running.decrement() }
            if value == 1 { await gate.wait() }
            return value
        }
        async let first: Int = queue.run(preparing: { 1 }, work)
        #expect(await eventually { running.value == 1 })
        await #expect(throws: Refused.self) {
            try await queue.run(preparing: { () throws -> Int in throw Refused() }, work)
        }
        #expect(await queue.admitted == 1)
        // Admitted, so it waits for the first to finish rather than run beside it.
        async let third: Int = queue.run(preparing: { 3 }, work)
        #expect(await eventually { await queue.admitted == 2 })
        try await Task.sleep(for: .milliseconds(50))
        #expect(running.value == 1)
        await gate.open()
        #expect(try await first == 1)
        #expect(try await third == 3)
        #expect(overlap.value == 0)
        #expect(await queue.admitted == 0)
    }
}
