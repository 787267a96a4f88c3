import Hummingbird
import Logging
import Prometheus

/// Builds the rerank HTTP service: routes, queue, metrics and the engine's loading.
///
/// Serving a loaded engine is one line:
/// ```swift
/// try await RerankService.makeApplication(engine: engine, configuration: configuration).runService()
/// ```
public enum RerankService {
    /// Version reported by `GET /info`.
    public static let version = "0.1.0"

    /// The application for an engine that is already loaded: `/health` answers 200 at once.
    public static func makeApplication(
        engine: any RerankEngine,
        configuration: ServiceConfiguration = ServiceConfiguration(),
        logger: Logger = Logger(label: "listconranker.server")
    ) throws -> some ApplicationProtocol {
        try makeApplication(slot: EngineSlot(engine: engine), loader: nil, configuration: configuration, logger: logger)
    }

    /// The application for an engine that `load` makes in the background once the service starts:
    /// `/health` answers 503 and the rerank routes 503 Unhealthy until it is ready. If `load`
    /// throws, the service stops with that error.
    public static func makeApplication(
        loadingEngine load: @escaping @Sendable () async throws -> any RerankEngine,
        configuration: ServiceConfiguration = ServiceConfiguration(),
        logger: Logger = Logger(label: "listconranker.server")
    ) throws -> some ApplicationProtocol {
        let slot = EngineSlot()
        return try makeApplication(
            slot: slot, loader: EngineLoadingService(slot: slot, load: load, logger: logger),
            configuration: configuration, logger: logger)
    }

    /// - Parameter onServerRunning: receives the bound port (useful with port 0).
    static func makeApplication(
        slot: EngineSlot, loader: EngineLoadingService?,
        configuration: ServiceConfiguration, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> Application<RouterResponder<ServiceRequestContext>> {
        let configuration = try configuration.validated()
        let metrics = ServiceMetrics(registry: PrometheusCollectorRegistry())
        let queue = InferenceQueue(capacity: configuration.maxConcurrentRequests) { depth in
            metrics.queueDepth.set(Double(depth))
        }
        let state = ServiceState(
            configuration: configuration, slot: slot, queue: queue, metrics: metrics,
            cache: configuration.vectorCacheBytes > 0 ? VectorCache(capacityBytes: configuration.vectorCacheBytes) : nil,
            store: configuration.featureStore.map { FeatureStoreSlot(location: $0, logger: logger) })
        var loader = loader
        loader?.store = state.store

        return Application(
            router: makeRouter(state: state),
            // The watcher lets a queued request whose client went away give its place back.
            server: .http1(configuration: .init(additionalChannelHandlers: [DisconnectWatcher()])),
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: "listconranker"),
            services: (loader.map { [$0] } ?? []) + (state.store.map { [FeatureStoreClosingService(slot: $0)] } ?? []),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }

    /// The routes and middleware; internal so that a test can list the routes served.
    static func makeRouter(state: ServiceState) -> Router<ServiceRequestContext> {
        let router = Router(context: ServiceRequestContext.self)
        router.middlewares.add(ServiceMiddleware(metrics: state.metrics))
        router.middlewares.add(LogRequestsMiddleware(.debug))
        RerankRoutes(state: state).register(on: router)
        // Routes that change data exist only with a key to guard them.
        if let apiKey = state.configuration.apiKey, let store = state.store {
            IndexRoutes(state: state, store: store, token: BearerToken(key: apiKey)).register(on: router)
        }
        OperationalRoutes(state: state).register(on: router)
        PageRoutes(hasFeatureStore: state.store != nil).register(on: router)
        return router
    }
}

extension RerankService {
    /// Serves until SIGTERM or SIGINT, then stops accepting connections, lets the requests in
    /// flight (running and queued) finish, and returns. The engine loads in the background.
    public static func serve(
        loadingEngine load: @escaping @Sendable () async throws -> any RerankEngine,
        configuration: ServiceConfiguration,
        logger: Logger = Logger(label: "listconranker.server")
    ) async throws {
        let slot = EngineSlot()
        let application = try makeApplication(
            slot: slot, loader: EngineLoadingService(slot: slot, load: load, logger: logger),
            configuration: configuration, logger: logger,
            onServerRunning: { port in
                logger.info("Listening", metadata: ["host": "\(configuration.host)", "port": "\(port)"])
            })
        try await application.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        logger.info("Stopped")
    }
}
