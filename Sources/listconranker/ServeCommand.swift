import ArgumentParser
import Foundation
import ListConRanker
import ListConRankerServer

/// `listconranker serve`: the HTTP rerank service (TEI's /rerank and Cohere/Jina's /v1/rerank).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the model over HTTP (TEI /rerank and Cohere/Jina /v1/rerank).",
        discussion: """
            The model loads in the background: GET /health answers 503 until it is ready. \
            SIGTERM or SIGINT stops accepting connections, finishes the requests in flight, and exits.
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

    @Option(help: "Most tokens per request (query and texts, after truncation); beyond, 413.")
    var maxBatchTokens: Int = ServiceConfiguration().maxBatchTokens

    @Option(help: "Largest request body in bytes; beyond, 413.")
    var payloadLimit: Int = ServiceConfiguration().payloadLimit

    func validate() throws {
        // The model options check themselves (the option group's own `validate`).
        do {
            _ = try serviceConfiguration.validated()
        } catch {
            throw ValidationError(error.message)
        }
    }

    var serviceConfiguration: ServiceConfiguration {
        ServiceConfiguration(
            host: host, port: port,
            maxConcurrentRequests: maxConcurrentRequests,
            maxClientBatchSize: maxClientBatchSize,
            maxBatchTokens: maxBatchTokens,
            payloadLimit: payloadLimit)
    }

    func run() async throws {
        // Plain values into the loading closure, which runs on another task.
        let (model, revision, options) = (modelOptions.model, modelOptions.revision, modelOptions.rerankerOptions)
        try await RerankService.serve(
            loadingEngine: {
                try await makeEngine(modelDirectory: ModelLocation.directory(model, revision: revision),
                                     name: model, options: options)
            },
            configuration: serviceConfiguration)
    }
}
