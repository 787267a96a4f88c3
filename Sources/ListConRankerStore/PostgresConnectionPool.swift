import Logging
import PostgresNIO

/// A few PostgreSQL connections, opened on demand and dropped when they break.
///
/// Each call leases one connection for itself alone, so a transaction never interleaves with
/// another task's query. A connection that fails with a connection error is closed and forgotten;
/// the next lease opens a new one, which is how the store recovers when the server returns.
/// (PostgresClient would pool too, but needs a long-running `run()` task and waits for the server
/// instead of failing fast, and a server behind this store should answer 503 at once.)
actor PostgresConnectionPool {
    private let configuration: PostgresConnection.Configuration
    private let location: String
    private let maximumConnections: Int
    /// The server-side limit on one statement (`statement_timeout`, milliseconds), set on each connection.
    private let statementTimeoutMilliseconds: Int
    private let logger: Logger
    private var idle: [PostgresConnection] = []
    /// Connections leased out or being opened; at most `maximumConnections`.
    private var inUse = 0
    /// Tasks waiting for a connection: handed one, or nil meaning "a slot is free, open your own".
    private var waiters: [CheckedContinuation<PostgresConnection?, Never>] = []
    private var nextID = 1
    private var closed = false

    init(configuration: PostgresConnection.Configuration, location: String, maximumConnections: Int,
         statementTimeout: Duration, logger: Logger) {
        self.configuration = configuration
        self.location = location
        self.maximumConnections = max(1, maximumConnections)
        let (seconds, attoseconds) = statementTimeout.components
        statementTimeoutMilliseconds = max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
        self.logger = logger
    }

    /// Runs `body` with a connection of its own, mapping failures to ``FeatureStoreError``.
    func withConnection<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await lease()
        do {
            let result = try await body(connection)
            giveBack(connection, healthy: true)
            return result
        } catch {
            let lost = PostgresErrors.isUnavailability(error) || connection.isClosed
            giveBack(connection, healthy: !lost)
            throw PostgresErrors.storeError(error, location: location)
        }
    }

    /// Closes every idle connection; leased ones close when given back. Later leases throw ``FeatureStoreError/closed(location:)``.
    func close() async {
        closed = true
        let connections = idle
        idle.removeAll()
        for waiter in waiters { waiter.resume(returning: nil) }
        waiters.removeAll()
        for connection in connections {
            try? await connection.close()
        }
    }

    private func lease() async throws -> PostgresConnection {
        if closed { throw FeatureStoreError.closed(location: location) }
        while let connection = idle.popLast() {
            if !connection.isClosed {
                inUse += 1
                return connection
            }
        }
        if inUse < maximumConnections {
            inUse += 1
            return try await openCountedConnection()
        }
        let handed = await withCheckedContinuation { waiters.append($0) }
        if let handed { return handed }
        // close() wakes waiters with nil without handing them a slot.
        if closed { throw FeatureStoreError.closed(location: location) }
        return try await openCountedConnection()
    }

    /// Opens a connection for a slot already counted in `inUse`, releasing the slot if that fails.
    private func openCountedConnection() async throws -> PostgresConnection {
        let id = nextID
        nextID += 1
        do {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
            // A statement that runs longer (a locked table, an overloaded server) is cancelled by the
            // server (SQLSTATE 57014, reported as unavailable) instead of holding a request forever.
            // The value is an integer of ours, not user input, so it is spelled into the SQL.
            do {
                try await connection.query(PostgresQuery(unsafeSQL: "SET statement_timeout = \(statementTimeoutMilliseconds)"),
                                           logger: logger)
            } catch {
                try? await connection.close()
                throw error
            }
            return connection
        } catch {
            releaseSlot()
            throw PostgresErrors.storeError(error, location: location)
        }
    }

    private func giveBack(_ connection: PostgresConnection, healthy: Bool) {
        if healthy, !closed, !connection.isClosed {
            if waiters.isEmpty {
                inUse -= 1
                idle.append(connection)
            } else {
                waiters.removeFirst().resume(returning: connection)
            }
            return
        }
        // Closing is asynchronous; nothing waits for it, and a failure to close a broken connection is moot.
        // The completion handler holds the connection until it is closed: PostgresNIO requires a
        // connection to be closed before it is released (a still-open one, dropped after a
        // cancelled statement, tripped its assertion).
        if !connection.isClosed {
            connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
        }
        releaseSlot()
    }

    /// Frees a slot: a waiting task gets it (and opens its own connection), or the count drops.
    private func releaseSlot() {
        if waiters.isEmpty {
            inUse -= 1
        } else {
            waiters.removeFirst().resume(returning: nil)
        }
    }
}
