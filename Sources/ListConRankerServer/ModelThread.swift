import Foundation
import ListConRanker

/// One long-lived thread that runs the model's work, in order, until ``stop()``.
///
/// The compute kernels keep per-thread state (a oneDNN stream, compiled attention kernels,
/// a bf16 scratch buffer). A dispatch queue may run successive jobs on different pool
/// threads, each growing its own copy of that state; one dedicated thread keeps one copy,
/// and keeps seconds of CPU work off the async runtime's few threads.
final class ModelThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var stopping = false
    private var finished = false

    init(name: String) {
        // The thread holds the object until it leaves its loop, so jobs queued before `stop()`
        // still run and the condition outlives every wait.
        let thread = Thread { self.runJobs() }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Runs `work` on the model thread and returns its result. After ``stop()``, throws
    /// `CancellationError` instead.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            condition.withLock {
                guard !stopping else { return continuation.resume(throwing: CancellationError()) }
                jobs.append { continuation.resume(with: Result { try work() }) }
                condition.signal()
            }
        }
    }

    /// Whether the thread has left its loop (after ``stop()`` and the last queued job).
    var hasExited: Bool { condition.withLock { finished } }

    /// Lets the thread finish the jobs already queued, then exit.
    func stop() {
        condition.withLock {
            stopping = true
            condition.signal()
        }
    }

    /// Niceness the model thread and its OpenMP team add to the process's: in the soak (RELIABILITY.md)
    /// at equal priority, 15% of the 429s for a full queue took over 10 ms while the model held
    /// both cores; the service's own threads now come first.
    static let computeNicenessIncrement = 5

    private func runJobs() {
        ComputePriority.lowerCurrentThreads(by: Self.computeNicenessIncrement)
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            guard !jobs.isEmpty else {
                finished = true
                condition.unlock()
                break
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}
