/// Serialises the index routes' writes per passage id: `POST /v1/index` reads the stored text
/// hashes, waits for the model's turn, encodes, then upserts; a `DELETE` of one of its ids in
/// that window would be undone by the upsert. Holding the ids from the read to the write makes
/// the two happen one after the other, in the order they took the ids.
///
/// A request takes all its ids at once or waits (never some of them), so two requests cannot
/// each hold what the other waits for. This serialises the requests of one service; replicas
/// sharing a PostgreSQL store are not serialised with each other.
actor PassageLocks {
    private var held: Set<String> = []
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// Runs `body` holding `ids`, after any request holding one of them has finished.
    func holding<T: Sendable>(_ ids: Set<String>, _ body: @Sendable () async throws -> T) async throws -> T {
        while !held.isDisjoint(with: ids) {
            await withCheckedContinuation { waiting.append($0) }
        }
        held.formUnion(ids)
        defer { release(ids) }
        return try await body()
    }

    /// Gives `ids` back and wakes every waiter to check again (waiters are few: index requests
    /// that share an id with a running one).
    private func release(_ ids: Set<String>) {
        held.subtract(ids)
        let woken = waiting
        waiting.removeAll()
        for waiter in woken { waiter.resume() }
    }
}
