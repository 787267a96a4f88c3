import ListConRankerStore
import Logging
import ServiceLifecycle

/// The service's feature store: opened for the loaded model's encoder identity, reopened on
/// demand when it could not be opened before (the database was down at start).
///
/// The store can only be opened once the model has loaded: which vectors it may hold depends on
/// the encoder (../shared/DESIGN.md §9).
actor FeatureStoreSlot {
    let location: FeatureStoreLocation
    private let logger: Logger
    private var store: (any FeatureStore)?
    /// The open in progress, shared by the requests that arrive meanwhile.
    private var opening: Task<any FeatureStore, any Error>?
    /// The engine's identity and hidden size, asked once: asking again would queue behind inference.
    private var configuration: FeatureStoreConfiguration?
    private var closed = false

    init(location: FeatureStoreLocation, logger: Logger) {
        self.location = location
        self.logger = logger
    }

    /// Opens the store when the service starts. A store of another encoder, or a location that
    /// is no feature store, throws: the service must not start on it. A database that is down
    /// is only logged: requests that need it get 503 until it is back, then it opens on demand.
    func openAtStartup(for engine: any RerankEngine) async throws {
        do {
            _ = try await open(for: engine)
            logger.info("Feature store open", metadata: ["store": "\(location)"])
        } catch FeatureStoreError.unavailable(_, let reason) {
            logger.warning("Feature store unavailable; it opens when it is back", metadata: [
                "store": "\(location)", "reason": "\(reason)",
            ])
        }
    }

    /// The open store, opening it first if needed; failures as ``ServiceError``s (503 while the
    /// database is down).
    func store(for engine: any RerankEngine) async throws(ServiceError) -> any FeatureStore {
        do {
            return try await open(for: engine)
        } catch {
            throw ServiceError(store: error)
        }
    }

    /// Closes the store, once the server has finished its requests (PostgreSQL's connections
    /// must be closed, not dropped); later requests get an error instead of a new connection.
    func close() async {
        closed = true
        guard let store else { return }
        self.store = nil
        try? await store.close()
    }

    private func open(for engine: any RerankEngine) async throws -> any FeatureStore {
        if closed { throw FeatureStoreError.closed(location: location.description) }
        if let store { return store }
        if let opening { return try await opening.value }
        let configuration = try await configuration(for: engine)
        // Another request may have opened it while this one awaited the identity.
        if let store { return store }
        if let opening { return try await opening.value }
        let (location, logger) = (self.location, self.logger)
        // A service that only looks vectors up has no precision to insist on: it adopts the
        // store's own (a new store is created in fp32).
        let task = Task { try await location.open(configuration: configuration, logger: logger) }
        opening = task
        defer { opening = nil }
        let store = try await task.value
        if closed {
            // Shut down while it was opening: close it rather than drop it.
            try? await store.close()
            throw FeatureStoreError.closed(location: location.description)
        }
        self.store = store
        return store
    }

    private func configuration(for engine: any RerankEngine) async throws -> FeatureStoreConfiguration {
        if let configuration { return configuration }
        guard let engine = engine as? any PooledVectorEngine else {
            throw ServiceError(
                status: .internalServerError, kind: .backend,
                message: "The engine \(engine.modelName) has no pooled vectors: it cannot use a feature store")
        }
        let configuration = FeatureStoreConfiguration(
            encoderIdentity: try await engine.encoderIdentity(), dimension: engine.hiddenSize)
        self.configuration = configuration
        return configuration
    }
}

/// Closes the feature store when the service shuts down. Listed before the HTTP server among the
/// application's services, it is told to stop after the server has drained its requests.
struct FeatureStoreClosingService: Service {
    let slot: FeatureStoreSlot

    func run() async throws {
        try? await gracefulShutdown()
        await slot.close()
    }
}
