import Logging
import ServiceLifecycle

/// Where the engine lives once loaded: empty while the model loads in the background, so that
/// `/health` can answer 503 and the rerank routes refuse politely instead of blocking.
actor EngineSlot {
    private(set) var engine: (any RerankEngine)?

    init(engine: (any RerankEngine)? = nil) {
        self.engine = engine
    }

    func store(_ engine: any RerankEngine) {
        self.engine = engine
    }

    /// The engine, or 503 Unhealthy while it is loading, and for good once its device has failed
    /// (a GPU whose context the driver will not use again): only a restart helps then, and a 503 on
    /// `/health` is what makes a load balancer or an orchestrator's health check restart it.
    func loadedEngine() throws(ServiceError) -> any RerankEngine {
        guard let engine else {
            throw ServiceError(
                status: .serviceUnavailable, kind: .unhealthy,
                message: "The model is still loading; poll GET /health until it answers 200")
        }
        if let failure = engine.deviceFailure {
            throw ServiceError(
                status: .serviceUnavailable, kind: .unhealthy,
                message: "The \(engine.device) device can no longer run the model (\(failure)); restart the service")
        }
        return engine
    }
}

/// Loads the engine when the service group starts, fills the slot, then stays up until shutdown
/// (a service that returns early would end the whole group). A load that fails ends the group
/// with that error, so the process exits non-zero instead of serving 503 for ever.
///
/// With a feature store, the store is opened for the engine's encoder identity before the engine
/// is served: a store of another encoder ends the group too (see ``FeatureStoreSlot``).
struct EngineLoadingService: Service {
    let slot: EngineSlot
    let load: @Sendable () async throws -> any RerankEngine
    let logger: Logger
    var store: FeatureStoreSlot? = nil

    func run() async throws {
        logger.info("Loading the model")
        let start = ContinuousClock.now
        let engine: any RerankEngine
        do {
            engine = try await cancelWhenGracefulShutdown { try await load() }
        } catch is CancellationError where Task.isShuttingDownGracefully {
            // SIGTERM while loading: nothing to drain, and not a failure.
            logger.info("Shut down before the model finished loading")
            return
        } catch {
            logger.error("Loading the model failed", metadata: ["error": "\(error)"])
            throw error
        }
        if let store {
            do {
                try await store.openAtStartup(for: engine)
            } catch {
                logger.error("Opening the feature store failed", metadata: ["error": "\(error)"])
                throw error
            }
        }
        await slot.store(engine)
        logger.info("Model loaded", metadata: [
            "model": "\(engine.modelName)", "precision": "\(engine.precision)",
            "seconds": "\((ContinuousClock.now - start).components.seconds)",
        ])
        try? await gracefulShutdown()
    }
}
