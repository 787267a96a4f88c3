import Prometheus

/// The service's Prometheus metrics, all in one registry that `GET /metrics` exports.
///
/// Each application owns its registry (rather than bootstrapping the process-wide swift-metrics
/// system), so that several applications — in tests, one per test — never share counters.
final class ServiceMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    /// Requests admitted to the model queue: running plus waiting.
    let queueDepth: Gauge
    /// Tokens the model processed (query and texts, after truncation), over successful inferences.
    let tokensProcessed: Counter
    /// Texts the model scored, over successful inferences.
    let textsScored: Counter
    /// Time inside the engine, per turn of the model (one request, or a batch of them).
    let inferenceDuration: DurationHistogram
    /// Requests scored in one turn of the model (1 unless requests are batched).
    let batchRequests: ValueHistogram
    /// Tokens scored in one turn of the model (queries and texts after truncation).
    let batchTokens: ValueHistogram
    /// Time a request waited for the model.
    let queueWaitDuration: DurationHistogram
    /// Texts whose pooled vector the vector cache held (each distinct text of a request once).
    let vectorCacheHits: Counter
    /// Texts the vector cache did not hold, so the encoder encoded them.
    let vectorCacheMisses: Counter
    /// Bytes the vector cache holds now.
    let vectorCacheBytes: Gauge
    /// Entries the vector cache holds now.
    let vectorCacheEntries: Gauge

    /// Request latencies span a fast 4xx (microseconds) to an iterative CPU run over hundreds of
    /// texts (minutes), hence the wide, roughly ×2.5 spaced buckets.
    static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2_500),
        .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(120), .seconds(300),
    ]

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        queueDepth = registry.makeGauge(descriptor: .init(
            namespace: "listconranker", metricName: "queue_depth", unitName: "requests",
            helpText: "Requests admitted to the model queue (running plus waiting)."))
        tokensProcessed = registry.makeCounter(descriptor: .init(
            namespace: "listconranker", metricName: "tokens_processed", unitName: "total",
            helpText: "Tokens scored by the model (query and texts, after truncation)."))
        textsScored = registry.makeCounter(descriptor: .init(
            namespace: "listconranker", metricName: "texts_scored", unitName: "total",
            helpText: "Texts scored by the model."))
        inferenceDuration = registry.makeDurationHistogram(
            descriptor: .init(
                namespace: "listconranker", metricName: "inference_duration", unitName: "seconds",
                helpText: "Time spent in the model per turn: one request, or a batch of requests."),
            labels: [], buckets: Self.latencyBuckets)
        batchRequests = registry.makeValueHistogram(
            descriptor: .init(
                namespace: "listconranker", metricName: "batch_size", unitName: "requests",
                helpText: "Requests scored together in one turn of the model."),
            buckets: [1, 2, 4, 8, 16, 32, 64, 128])
        batchTokens = registry.makeValueHistogram(
            descriptor: .init(
                namespace: "listconranker", metricName: "batch", unitName: "tokens",
                helpText: "Tokens (queries and texts after truncation) scored in one turn of the model."),
            buckets: [256, 1_024, 4_096, 8_192, 16_384, 32_768, 65_536])
        queueWaitDuration = registry.makeDurationHistogram(
            descriptor: .init(
                namespace: "listconranker", metricName: "queue_wait_duration", unitName: "seconds",
                helpText: "Time a request waited for the model."),
            labels: [], buckets: Self.latencyBuckets)
        vectorCacheHits = registry.makeCounter(descriptor: .init(
            namespace: "listconranker", metricName: "vector_cache_hits", unitName: "total",
            helpText: "Texts whose pooled encoder vector came from the in-memory cache."))
        vectorCacheMisses = registry.makeCounter(descriptor: .init(
            namespace: "listconranker", metricName: "vector_cache_misses", unitName: "total",
            helpText: "Texts the in-memory vector cache did not hold, encoded by the model."))
        vectorCacheBytes = registry.makeGauge(descriptor: .init(
            namespace: "listconranker", metricName: "vector_cache", unitName: "bytes",
            helpText: "Bytes held by the in-memory vector cache (texts, vectors and overhead)."))
        vectorCacheEntries = registry.makeGauge(descriptor: .init(
            namespace: "listconranker", metricName: "vector_cache_entries", unitName: "texts",
            helpText: "Texts held by the in-memory vector cache."))
    }

    /// Counts one finished request and records its latency, labelled by route and status.
    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        registry.makeCounter(
            descriptor: .init(
                namespace: "listconranker", metricName: "http_requests", unitName: "total",
                helpText: "HTTP requests by route, method and status."),
            labels: [("route", route), ("method", method), ("status", String(status))]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: .init(
                namespace: "listconranker", metricName: "http_request_duration", unitName: "seconds",
                helpText: "HTTP request latency by route, method and status, from the request head to the response."),
            labels: [("route", route), ("method", method), ("status", String(status))],
            buckets: Self.latencyBuckets
        ).record(duration)
    }

    /// The Prometheus text exposition of every metric.
    func exposition() -> String {
        registry.emitToString()
    }
}
