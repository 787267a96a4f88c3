// The rerank service with the deterministic TokenOverlapEngine instead of the model, for
// tools/loadtest/loadtest.py runs that measure the service itself, without model time.
import ArgumentParser
import ListConRankerFakeEngine
import ListConRankerServer

@main
struct LoadTestServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listconranker-loadtest-server",
        abstract: "The rerank HTTP service over a fake engine, for load tests.")

    @Option(help: "Interface to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "TCP port to listen on.")
    var port: Int = 8080

    @Option(help: "Simulated inference time per request, in milliseconds.")
    var latencyMs: Int = 20

    @Option(help: "Simulated model loading time, in milliseconds (/health answers 503 meanwhile).")
    var loadMs: Int = 0

    @Option(help: "Requests admitted at once (running plus waiting); beyond, 429.")
    var maxConcurrentRequests: Int = ServiceConfiguration().maxConcurrentRequests

    @Option(help: "Most texts per request; beyond, 413.")
    var maxClientBatchSize: Int = ServiceConfiguration().maxClientBatchSize

    @Option(help: "Most tokens per request; beyond, 413.")
    var maxBatchTokens: Int = ServiceConfiguration().maxBatchTokens

    func run() async throws {
        let engine = TokenOverlapEngine(latency: .milliseconds(latencyMs))
        let loadTime = Duration.milliseconds(loadMs)
        try await RerankService.serve(
            loadingEngine: {
                try await Task.sleep(for: loadTime)
                return engine
            },
            configuration: ServiceConfiguration(
                host: host, port: port,
                maxConcurrentRequests: maxConcurrentRequests,
                maxClientBatchSize: maxClientBatchSize,
                maxBatchTokens: maxBatchTokens))
    }
}
