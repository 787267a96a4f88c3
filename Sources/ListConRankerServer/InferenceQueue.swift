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
    /// The waiting requests, oldest first: resumed with true for their turn, false when their
    /// task was cancelled (the client went away) and they left the queue.
    private var waiting: [(ticket: Int, turn: CheckedContinuation<Bool, Never>)] = []
    private var nextTicket = 0
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
        try admit()
        return try await runAdmitted(waited: waited, work)
    }

    /// Takes a place in the queue or throws 429 Overloaded at once; then runs `prepare` (a
    /// request's tokenization and look-ups, which may still refuse the request: its place is
    /// given back), waits for the turn, and runs `work` on what `prepare` returned.
    ///
    /// The place is taken before `prepare` so that, while the model is saturated, a refusal costs
    /// the service no tokenization: the 429 comes from a counter, not after the request's texts
    /// went through the tokenizer. `prepare` runs outside the queue's isolation, so refusing other
    /// requests never waits for it.
    nonisolated func run<Prepared: Sendable, T: Sendable>(
        preparing prepare: @Sendable () async throws -> Prepared,
        waited: @Sendable (Duration) -> Void = { _ in },
        _ work: @Sendable (Prepared) async throws -> T
    ) async throws -> T {
        try await admit()
        let prepared: Prepared
        do {
            prepared = try await prepare()
        } catch {
            await withdraw()
            throw error
        }
        return try await runAdmitted(waited: waited) { try await work(prepared) }
    }

    /// Counts one more request in, or throws 429 when `capacity` are running or waiting.
    private func admit() throws(ServiceError) {
        guard admitted < capacity else {
            throw ServiceError(
                status: .tooManyRequests, kind: .overloaded,
                message: "Model is overloaded: \(admitted) requests are running or waiting "
                    + "(max-concurrent-requests \(capacity)); retry later")
        }
        admitted += 1
        depthChanged(admitted)
    }

    /// Waits for the turn of a request ``admit()`` counted in, runs it, and counts it out. A
    /// request cancelled while it waits (its client went away) leaves the queue at once and
    /// gives its place back, so others are not refused for a request no one will read.
    private func runAdmitted<T: Sendable>(
        waited: @Sendable (Duration) -> Void,
        _ work: @Sendable () async throws -> T
    ) async throws -> T {
        let start = ContinuousClock.now
        if running {
            let ticket = nextTicket
            nextTicket += 1
            let gotTurn = await withTaskCancellationHandler {
                await withCheckedContinuation { turn in
                    // Cancelled before it queued: the handler below found nothing to remove.
                    if Task.isCancelled { return turn.resume(returning: false) }
                    waiting.append((ticket, turn))
                }
            } onCancel: {
                Task { await self.leave(ticket) }
            }
            guard gotTurn else {
                withdraw()
                throw CancellationError()
            }
            // The finishing request handed its turn to us: `running` stayed true for us.
        } else {
            running = true
        }
        defer { finish() }
        waited(ContinuousClock.now - start)
        // A client that went away while waiting costs no model time.
        try Task.checkCancellation()
        return try await work()
    }

    /// Takes the waiting request `ticket` out of the line (it was cancelled); nothing when it
    /// already has its turn.
    private func leave(_ ticket: Int) {
        guard let index = waiting.firstIndex(where: { $0.ticket == ticket }) else { return }
        waiting.remove(at: index).turn.resume(returning: false)
    }

    /// Gives back the place of a request refused before its turn (it never ran, so the turn
    /// stays where it is).
    private func withdraw() {
        admitted -= 1
        depthChanged(admitted)
    }

    /// Counts out the request that ran and hands the turn to the oldest waiting one.
    private func finish() {
        admitted -= 1
        depthChanged(admitted)
        if waiting.isEmpty {
            running = false
        } else {
            waiting.removeFirst().turn.resume(returning: true)
        }
    }
}
