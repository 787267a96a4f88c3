/// Limits and bind address of the rerank service.
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
    /// Most tokens in one request, the query and every text after truncation; more give 413.
    public var maxBatchTokens: Int
    /// Largest request body in bytes; a larger one gives 413.
    public var payloadLimit: Int

    /// Creates a configuration; every limit must be at least 1 (see ``validated()``).
    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        maxConcurrentRequests: Int = 64,
        maxClientBatchSize: Int = 1_000,
        maxBatchTokens: Int = 16_384,
        payloadLimit: Int = 2_000_000
    ) {
        self.host = host
        self.port = port
        self.maxConcurrentRequests = maxConcurrentRequests
        self.maxClientBatchSize = maxClientBatchSize
        self.maxBatchTokens = maxBatchTokens
        self.payloadLimit = payloadLimit
    }

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
        if !(0...65_535).contains(port) {
            throw ServiceConfigurationError(message: "port must be in 0...65535, got \(port)")
        }
        return self
    }
}

/// A ``ServiceConfiguration`` value that cannot work, with the reason.
public struct ServiceConfigurationError: Error, CustomStringConvertible, Equatable {
    /// What is wrong, naming the option.
    public let message: String
    /// The message.
    public var description: String { message }
}
