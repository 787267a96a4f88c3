import ListConRankerStore

/// Limits, bind address, feature store and vector cache of the rerank service.
///
/// The defaults follow Text Embeddings Inference where it has an equivalent (payload limit 2 MB,
/// max batch tokens 16,384) and ListConRanker's use otherwise: lists of up to a few hundred
/// passages are the point of iterative inference, so the client batch size is larger than TEI's 32.
public struct ServiceConfiguration: Sendable, Equatable {
    /// Interface to listen on.
    public var host: String
    /// TCP port to listen on (0 picks a free port).
    public var port: Int
    /// Requests admitted at once, running and waiting together; the next one gets 429 at once.
    public var maxConcurrentRequests: Int
    /// Most texts (documents) in one request; more give 413.
    public var maxClientBatchSize: Int
    /// Most tokens in one request, the query and every text after truncation (more give 413),
    /// and in one batch of requests scored together (see ``batching``).
    public var maxBatchTokens: Int
    /// Whether requests that arrive together are scored in one pass of the model.
    public var batching: RequestBatching
    /// How long a request that finds the model idle waits for others to batch with, in
    /// milliseconds (when batching is on); 0 batches only requests that queued while the model
    /// was busy.
    public var maxBatchDelayMilliseconds: Int
    /// Largest request body in bytes; a larger one gives 413.
    public var payloadLimit: Int
    /// Where passages' stored vectors live: enables `"document_ids"` on `POST /v1/rerank`
    /// (and, with ``apiKey``, the index routes). Opened once the model has loaded, for its
    /// encoder identity. Nil: no store.
    public var featureStore: FeatureStoreLocation?
    /// The Bearer token the index routes (`POST /v1/index`, `DELETE /v1/index/{id}`) require;
    /// they change data, so without a key they are not served at all (404). Needs ``featureStore``.
    public var apiKey: String?
    /// Memory for the cache of pooled encoder vectors keyed by text, in MiB (2²⁰ bytes);
    /// 0 turns the cache off. Used by every rerank route when the engine can hand out vectors.
    public var vectorCacheMegabytes: Int

    /// Creates a configuration; every limit must be at least 1 (see ``validated()``).
    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        maxConcurrentRequests: Int = 64,
        maxClientBatchSize: Int = 1_000,
        maxBatchTokens: Int = 16_384,
        batching: RequestBatching = .auto,
        maxBatchDelayMilliseconds: Int = 2,
        payloadLimit: Int = 2_000_000,
        featureStore: FeatureStoreLocation? = nil,
        apiKey: String? = nil,
        vectorCacheMegabytes: Int = 64
    ) {
        self.host = host
        self.port = port
        self.maxConcurrentRequests = maxConcurrentRequests
        self.maxClientBatchSize = maxClientBatchSize
        self.maxBatchTokens = maxBatchTokens
        self.batching = batching
        self.maxBatchDelayMilliseconds = maxBatchDelayMilliseconds
        self.payloadLimit = payloadLimit
        self.featureStore = featureStore
        self.apiKey = apiKey
        self.vectorCacheMegabytes = vectorCacheMegabytes
    }

    /// How the queue batches requests for `engine`: with ``RequestBatching/auto``, on where the
    /// engine runs on a GPU.
    func batchingPolicy(for engine: any RerankEngine) -> BatchingPolicy {
        let enabled = switch batching {
        case .on: true
        case .off: false
        case .auto: engine.device != "cpu" && engine is any BatchScoringEngine
        }
        return enabled
            ? BatchingPolicy(enabled: true, maxTokens: maxBatchTokens, delay: .milliseconds(maxBatchDelayMilliseconds))
            : .off
    }

    /// The cache's budget in bytes; 0 when it is off.
    var vectorCacheBytes: Int { vectorCacheMegabytes * (1 << 20) }

    /// The configuration itself, or an error naming the first limit that is out of range.
    public func validated() throws(ServiceConfigurationError) -> ServiceConfiguration {
        let limits: [(String, Int)] = [
            ("max-concurrent-requests", maxConcurrentRequests),
            ("max-client-batch-size", maxClientBatchSize),
            ("max-batch-tokens", maxBatchTokens),
            ("payload-limit", payloadLimit),
        ]
        for (name, value) in limits where value < 1 {
            throw ServiceConfigurationError(message: "\(name) must be at least 1, got \(value)")
        }
        if !(0...10_000).contains(maxBatchDelayMilliseconds) {
            throw ServiceConfigurationError(
                message: "max-batch-delay-ms must be in 0...10000, got \(maxBatchDelayMilliseconds)")
        }
        // 1 TiB: far above any machine's memory, and it keeps the byte count from overflowing.
        if !(0...(1 << 20)).contains(vectorCacheMegabytes) {
            throw ServiceConfigurationError(message: "cache-mb must be in 0...\(1 << 20), got \(vectorCacheMegabytes)")
        }
        if let apiKey {
            if apiKey.isEmpty || apiKey.contains(where: \.isWhitespace) {
                throw ServiceConfigurationError(message: "api-key must be non-empty and hold no whitespace (it travels as a Bearer token)")
            }
            if featureStore == nil {
                throw ServiceConfigurationError(message: "api-key guards the index routes, which need a feature store: add --store")
            }
        }
        if !(0...65_535).contains(port) {
            throw ServiceConfigurationError(message: "port must be in 0...65535, got \(port)")
        }
        return self
    }
}

/// Whether the service scores requests that arrive together in one pass of the model.
///
/// On a GPU, one packed pass over several lists costs little more than one list's, so batching
/// multiplies the lists served per second. On a CPU the model already keeps every core busy with
/// one list: batching there adds each request's wait for the others and gains little.
public enum RequestBatching: String, Sendable, Equatable, CaseIterable {
    /// On where the model runs on a GPU, off on the CPU.
    case auto
    /// Always.
    case on
    /// Never: one request per turn of the model.
    case off
}

/// A ``ServiceConfiguration`` value that cannot work, with the reason.
public struct ServiceConfigurationError: Error, CustomStringConvertible, Equatable {
    /// What is wrong, naming the option.
    public let message: String
    /// The message.
    public var description: String { message }
}
