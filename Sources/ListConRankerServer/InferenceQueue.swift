/// The bounded queue in front of the model: admits at most `capacity` requests (running plus
/// waiting), refuses the next one at once, and runs the admitted ones one at a time, first come
/// first served.
///
/// One at a time because the model spreads one list over every core itself; two lists at once
/// would only oversubscribe the cores and make both slower.
actor InferenceQueue {
    let capacity: Int
    /// Requests admitted and not yet finished: the one running plus those waiting.
    private(set) var admitted = 0
    private var running = false
    /// Continuations of the waiting requests, oldest first.
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private let depthChanged: @Sendable (Int) -> Void

    init(capacity: Int, depthChanged: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.capacity = capacity
        self.depthChanged = depthChanged
    }

    /// Runs `work` when its turn comes, or throws 429 Overloaded at once when the queue is full.
    /// `waited` receives the time spent waiting for the turn.
    func run<T: Sendable>(
        waited: @Sendable (Duration) -> Void = { _ in },
        _ work: @Sendable () async throws -> T
    ) async throws -> T {
        guard admitted < capacity else {
            throw ServiceError(
                status: .tooManyRequests, kind: .overloaded,
                message: "Model is overloaded: \(admitted) requests are running or waiting "
                    + "(max-concurrent-requests \(capacity)); retry later")
        }
        admitted += 1
        depthChanged(admitted)
        defer { finish() }

        let start = ContinuousClock.now
        if running {
            await withCheckedContinuation { waiting.append($0) }
            // The finishing request handed its turn to us: `running` stayed true for us.
        } else {
            running = true
        }
        waited(ContinuousClock.now - start)
        // A client that went away while waiting costs no model time.
        try Task.checkCancellation()
        return try await work()
    }

    private func finish() {
        admitted -= 1
        depthChanged(admitted)
        if waiting.isEmpty {
            running = false
        } else {
            waiting.removeFirst().resume()
        }
    }
}
