import ArgumentParser
import Foundation
import ListConRanker
import ListConRankerServer
import ListConRankerStore

/// `listconranker serve`: the HTTP rerank service (TEI's /rerank and Cohere/Jina's /v1/rerank).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the model over HTTP (TEI /rerank and Cohere/Jina /v1/rerank).",
        discussion: """
            The model loads in the background: GET /health answers 503 until it is ready. \
            SIGTERM or SIGINT stops accepting connections, finishes the requests in flight, and exits.

            With --store, POST /v1/rerank also takes "document_ids" (passages whose vectors the \
            store holds: only the query is encoded); with --api-key as well, POST /v1/index and \
            DELETE /v1/index/{id} fill and prune the store.
            """)

    @OptionGroup var modelOptions: ModelOptions<ServingDefaults>

    @Option(help: "Interface to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "TCP port to listen on.")
    var port: Int = 8080

    @Option(help: "Requests admitted at once (running plus waiting); beyond, 429.")
    var maxConcurrentRequests: Int = ServiceConfiguration().maxConcurrentRequests

    @Option(help: "Most texts per request; beyond, 413.")
    var maxClientBatchSize: Int = ServiceConfiguration().maxClientBatchSize

    @Option(help: "Most tokens per request (query and texts, after truncation; beyond, 413), and per batch of requests scored together.")
    var maxBatchTokens: Int = ServiceConfiguration().maxBatchTokens

    @Option(help: "Score requests that arrive together in one pass of the model: auto (on a GPU), on, off.")
    var batching: RequestBatching = ServiceConfiguration().batching

    @Option(help: "With batching, how long (ms) a request that finds the model idle waits for others to join it.")
    var maxBatchDelayMs: Int = ServiceConfiguration().maxBatchDelayMilliseconds

    @Option(help: "Largest request body in bytes; beyond, 413.")
    var payloadLimit: Int = ServiceConfiguration().payloadLimit

    @Option(help: "Feature store of passages' pooled vectors: an SQLite file (features.sqlite, sqlite:PATH) or postgres://user:password@host/db. Must have been written by this model's encoder, if it exists.")
    var store: String?

    @Option(help: "Bearer token required by the index routes (POST /v1/index, DELETE /v1/index/{id}); without one they are off. Default: $LISTCONRANKER_API_KEY.")
    var apiKey: String?

    @Option(help: "Memory for the cache of pooled vectors keyed by text, in MiB; 0 turns it off.")
    var cacheMb: Int = ServiceConfiguration().vectorCacheMegabytes

    @Option(help: "The model's name in responses and /info (default: the hub id, or the model folder's name; never its path).")
    var servedModelName: String?

    func validate() throws {
        // The model options check themselves (the option group's own `validate`).
        if let servedModelName, servedModelName.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--served-model-name must not be empty")
        }
        do {
            _ = try serviceConfiguration().validated()
        } catch let error as ServiceConfigurationError {
            throw ValidationError(error.message)
        } catch {
            throw ValidationError("--store: \(error)")
        }
    }

    func serviceConfiguration() throws -> ServiceConfiguration {
        let environmentKey = ProcessInfo.processInfo.environment["LISTCONRANKER_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        return ServiceConfiguration(
            host: host, port: port,
            maxConcurrentRequests: maxConcurrentRequests,
            maxClientBatchSize: maxClientBatchSize,
            maxBatchTokens: maxBatchTokens,
            batching: batching,
            maxBatchDelayMilliseconds: maxBatchDelayMs,
            payloadLimit: payloadLimit,
            featureStore: try store.map(FeatureStoreLocation.init(parsing:)),
            // The environment's key only with a store: set for another purpose, it must not stop
            // a storeless service from starting.
            apiKey: apiKey ?? (store == nil ? nil : environmentKey),
            vectorCacheMegabytes: cacheMb)
    }

    func run() async throws {
        // Plain values into the loading closure, which runs on another task.
        let (model, revision, options) = (modelOptions.model, modelOptions.revision, modelOptions.rerankerOptions)
        let name = servedModelName ?? ModelLocation.servedName(model, revision: revision)
        try await RerankService.serve(
            loadingEngine: {
                try await makeEngine(modelDirectory: ModelLocation.directory(model, revision: revision),
                                     name: name, options: options)
            },
            configuration: try serviceConfiguration())
    }
}

extension RequestBatching: ExpressibleByArgument {}
