/// The bounded queue in front of the model: admits at most `capacity` requests (running plus
/// waiting), refuses the next one at once, and gives the model to the admitted ones one turn at a
/// time, first come first served.
///
/// One turn at a time because the model spreads one pass over every core (or the whole GPU)
/// itself; two at once would only oversubscribe it. A scoring request's turn may take other
/// waiting scoring requests along (``BatchingPolicy``): on a GPU one packed pass over several
/// lists costs little more than one list's.
actor InferenceQueue {
    let capacity: Int
    /// Requests admitted and not yet finished: those running plus those waiting.
    private(set) var admitted = 0
    private var running = false
    /// The waiting requests, oldest first.
    private var waiting: [Waiter] = []
    private var nextTicket = 0
    private let depthChanged: @Sendable (Int) -> Void

    /// A request waiting for its turn.
    private enum Waiter {
        /// Work that runs alone: resumed with true for its turn, false when its task was
        /// cancelled (the client went away) and it left the queue.
        case alone(ticket: Int, turn: CheckedContinuation<Bool, Never>)
        /// A scoring request, which another's turn may serve in its batch.
        case batchable(BatchMember)

        var ticket: Int {
            switch self {
            case .alone(let ticket, _): return ticket
            case .batchable(let member): return member.ticket
            }
        }
    }

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
        let prepared = try await admitAndPrepare(prepare)
        return try await runAdmitted(waited: waited) { try await work(prepared) }
    }

    /// Takes a place (429 at once when the queue is full), then runs `prepare` outside the queue's
    /// isolation; gives the place back when `prepare` refuses the request.
    private nonisolated func admitAndPrepare<Prepared: Sendable>(
        _ prepare: @Sendable () async throws -> Prepared
    ) async throws -> Prepared {
        try await admit()
        do {
            return try await prepare()
        } catch {
            await withdraw()
            throw error
        }
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
                    waiting.append(.alone(ticket: ticket, turn: turn))
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
    /// already has its turn or was taken into another's batch.
    private func leave(_ ticket: Int) {
        guard let index = waiting.firstIndex(where: { $0.ticket == ticket }) else { return }
        switch waiting.remove(at: index) {
        case .alone(_, let turn): turn.resume(returning: false)
        case .batchable(let member): member.resume(.cancelled)
        }
    }

    /// Gives back the place of a request refused before its turn (it never ran, so the turn
    /// stays where it is).
    private func withdraw() {
        admitted -= 1
        depthChanged(admitted)
    }

    /// Counts out the `count` requests that ran in the turn and hands the turn to the oldest
    /// waiting one.
    private func finish(count: Int = 1) {
        admitted -= count
        depthChanged(admitted)
        if waiting.isEmpty {
            running = false
        } else {
            switch waiting.removeFirst() {
            case .alone(_, let turn): turn.resume(returning: true)
            case .batchable(let member): member.resume(.lead)
            }
        }
    }

    // MARK: - Scoring requests, batched

    /// ``run(preparing:waited:_:)`` for a scoring request, which may be served in a batch.
    ///
    /// When its turn comes, the request leads a batch: it takes along the scoring requests
    /// waiting behind it (oldest first, while their tokens fit ``BatchingPolicy/maxTokens``) and
    /// `score` scores them all, one result per job. When the model was idle, the leader first
    /// waits ``BatchingPolicy/delay`` for others to arrive. A request taken into another's batch
    /// gets its result without a turn of its own. With batching off, each batch is one request.
    /// The policy is the leader's: every request of one service passes the same.
    nonisolated func runScoring<Prepared: Sendable>(
        preparing prepare: @Sendable () async throws -> Prepared,
        job jobPath: KeyPath<Prepared, RequestValidation.ScoringJob> & Sendable,
        batching: BatchingPolicy,
        waited: @escaping @Sendable (Duration) -> Void = { _ in },
        score: @Sendable ([RequestValidation.ScoringJob]) async -> [Result<[Float], any Error>]
    ) async throws -> (Prepared, [Float]) {
        let prepared = try await admitAndPrepare(prepare)
        let scores = try await lead(prepared[keyPath: jobPath], batching: batching, waited: waited, score: score)
        return (prepared, scores)
    }

    /// Waits for the turn (or to be served in another's batch), then leads a batch.
    private func lead(
        _ job: RequestValidation.ScoringJob, batching: BatchingPolicy, waited: @escaping @Sendable (Duration) -> Void,
        score: @Sendable ([RequestValidation.ScoringJob]) async -> [Result<[Float], any Error>]
    ) async throws -> [Float] {
        let member = BatchMember(job: job, ticket: nextTicket, waited: waited)
        nextTicket += 1
        let modelWasIdle = !running
        if running {
            let handoff = await withTaskCancellationHandler {
                await withCheckedContinuation { (handoff: CheckedContinuation<BatchMember.Handoff, Never>) in
                    if Task.isCancelled { return handoff.resume(returning: BatchMember.Handoff.cancelled) }
                    member.handoff = handoff
                    waiting.append(.batchable(member))
                }
            } onCancel: {
                Task { await self.leave(member.ticket) }
            }
            switch handoff {
            case .cancelled:
                withdraw()
                throw CancellationError()
            case .served(let result):
                return try result.get()
            case .lead:
                break   // The finishing request handed its turn to us: `running` stayed true for us.
            }
        } else {
            running = true
        }
        // Requests arriving while the leader waits queue behind it and join its batch.
        if modelWasIdle && batching.enabled && batching.delay > .zero {
            try? await Task.sleep(for: batching.delay)
        }
        var members = [member]
        if batching.enabled {
            var tokens = job.totalTokens
            var index = 0
            while index < waiting.count {
                if case .batchable(let other) = waiting[index], tokens + other.job.totalTokens <= batching.maxTokens {
                    tokens += other.job.totalTokens
                    members.append(other)
                    waiting.remove(at: index)
                } else {
                    index += 1
                }
            }
        }
        let now = ContinuousClock.now
        for member in members { member.waited(now - member.arrived) }
        // A leader whose client went away while it waited costs no model time; the others it
        // took along are still served.
        let leaderGone = Task.isCancelled
        let batch = leaderGone ? Array(members.dropFirst()) : members
        var results = batch.isEmpty ? [] : await score(batch.map(\.job))
        if results.count != batch.count {
            results = batch.map { _ in
                .failure(ServiceError(status: .internalServerError, kind: .backend,
                                      message: "The batch returned \(results.count) results for \(batch.count) requests"))
            }
        }
        for (other, result) in zip(batch, results) where other !== member {
            other.resume(.served(result))
        }
        finish(count: members.count)
        if leaderGone { throw CancellationError() }
        return try results[0].get()
    }
}

/// How ``InferenceQueue`` batches scoring requests.
struct BatchingPolicy: Sendable, Equatable {
    /// Whether a turn takes other waiting scoring requests along.
    var enabled: Bool
    /// Most tokens in one batch (the requests' queries and texts after truncation).
    var maxTokens: Int
    /// How long a request that finds the model idle waits for others before it runs.
    var delay: Duration

    /// One request per turn.
    static let off = BatchingPolicy(enabled: false, maxTokens: 0, delay: .zero)
}

/// A scoring request waiting in ``InferenceQueue``: isolated to the queue, which alone reads and
/// resumes it.
final class BatchMember: @unchecked Sendable {
    /// What the queue tells a waiting scoring request.
    enum Handoff: Sendable {
        /// Its turn: lead a batch.
        case lead
        /// Another's batch scored it.
        case served(Result<[Float], any Error>)
        /// Its client went away.
        case cancelled
    }

    let job: RequestValidation.ScoringJob
    let ticket: Int
    let arrived = ContinuousClock.now
    let waited: @Sendable (Duration) -> Void
    var handoff: CheckedContinuation<Handoff, Never>?

    init(job: RequestValidation.ScoringJob, ticket: Int, waited: @escaping @Sendable (Duration) -> Void) {
        self.job = job
        self.ticket = ticket
        self.waited = waited
    }

    /// Resumes the waiting request once.
    func resume(_ handoff: Handoff) {
        self.handoff?.resume(returning: handoff)
        self.handoff = nil
    }
}
