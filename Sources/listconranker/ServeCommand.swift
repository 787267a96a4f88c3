import ArgumentParser
import Foundation
import ListConRanker
import ListConRankerServer

/// Numeric precision the served model computes in.
enum ServePrecision: String, CaseIterable, ExpressibleByArgument {
    case fp32, bf16
    /// bf16 where the CPU has native bf16 dot products, fp32 otherwise (the engine decides).
    case auto
}

/// `listconranker serve`: the HTTP rerank service (TEI's /rerank and Cohere/Jina's /v1/rerank).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the model over HTTP (TEI /rerank and Cohere/Jina /v1/rerank).",
        discussion: """
            The model loads in the background: GET /health answers 503 until it is ready. \
            SIGTERM or SIGINT stops accepting connections, finishes the requests in flight, and exits.
            """)

    @Option(help: "Model directory (config.json, weights, tokenizer) or a hub repository id (owner/name[@revision]).")
    var model: String

    @Option(help: "Hub branch, tag or commit when --model is a repository id.")
    var revision: String?

    @Option(help: "Interface to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "TCP port to listen on.")
    var port: Int = 8080

    @Option(help: "Numeric precision: fp32, bf16 or auto.")
    var precision: ServePrecision = .auto

    @Option(help: "Requests admitted at once (running plus waiting); beyond, 429.")
    var maxConcurrentRequests: Int = ServiceConfiguration().maxConcurrentRequests

    @Option(help: "Most texts per request; beyond, 413.")
    var maxClientBatchSize: Int = ServiceConfiguration().maxClientBatchSize

    @Option(help: "Most tokens per request (query and texts, after truncation); beyond, 413.")
    var maxBatchTokens: Int = ServiceConfiguration().maxBatchTokens

    @Option(help: "Largest request body in bytes; beyond, 413.")
    var payloadLimit: Int = ServiceConfiguration().payloadLimit

    func validate() throws {
        do {
            _ = try ModelReference.parse(model, revision: revision)
        } catch {
            throw ValidationError("--model \(model): \(error)")
        }
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
        let (model, revision, precision) = (self.model, self.revision, self.precision)
        try await RerankService.serve(
            loadingEngine: {
                let modelDirectory = try await HubModelResolver().resolve(model, revision: revision)
                return try await makeEngine(modelDirectory: modelDirectory, name: model, precision: precision)
            },
            configuration: serviceConfiguration)
    }
}
