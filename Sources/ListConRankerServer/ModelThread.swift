import Foundation

/// One long-lived thread that runs the model's work, in order.
///
/// The compute kernels keep per-thread state (a oneDNN stream, compiled attention kernels,
/// a bf16 scratch buffer). A dispatch queue may run successive jobs on different pool
/// threads, each growing its own copy of that state; one dedicated thread keeps one copy,
/// and keeps seconds of CPU work off the async runtime's few threads.
final class ModelThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []

    init(name: String) {
        let thread = Thread { [unowned self] in self.runJobs() }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Runs `work` on the model thread and returns its result.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            condition.withLock {
                jobs.append { continuation.resume(with: Result { try work() }) }
                condition.signal()
            }
        }
    }

    private func runJobs() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}
