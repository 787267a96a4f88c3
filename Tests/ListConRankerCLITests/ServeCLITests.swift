import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// `serve` takes the same model options as every other command, and they reach the engine.
@Suite struct ServeCLITests {
    @Test func helpListsTheModelOptionsWithServeDefaults() throws {
        let result = try CLI.run(["serve", "--help"])
        #expect(result.status == 0, "\(result)")
        for option in ["--model", "--revision", "--precision", "--max-length", "--encoder-batch-tokens", "--port"] {
            #expect(result.stdout.contains(option), "serve --help lacks \(option)")
        }
        #expect(result.stdout.contains("Default: bf16 on a GPU; on the CPU auto."), "serve defaults to auto: \(result)")
        let rerank = try CLI.run(["rerank", "--help"])
        #expect(rerank.stdout.contains("Default: bf16 on a GPU; on the CPU fp32."), "rerank defaults to fp32: \(rerank)")
        #expect(rerank.stdout.contains("--device"), "rerank --help lacks --device")
    }

    @Test func maxLengthOneIsRejectedBeforeListening() throws {
        let result = try CLI.run(["serve", "--model", CLIFixtures.tinyModel, "--port", "0", "--max-length", "1"], timeLimit: 20)
        #expect(!result.timedOut && result.status == CLI.usageError, "\(result)")
        #expect(result.stderr.hasPrefix("Error: --max-length must be at least 2"), "\(result)")
    }

    /// A real server on a free loopback port (port 0), always stopped: /info must report the
    /// options given on the command line. Synchronous on purpose: the other tests block the
    /// concurrency pool's threads while their processes run, so `Task.sleep` here could wait long.
    @Test func servedModelUsesTheGivenOptions() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (process, port) = try ServeProcess.start(["--model", CLIFixtures.tinyModel, "--max-length", "64",
                                                      "--encoder-batch-tokens", "32", "--precision", "fp32"],
                                                     log: directory.url.appendingPathComponent("stderr"))
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }

        struct Info: Decodable { let ready: Bool; let max_input_length: Int?; let model_dtype: String?; let model_id: String? }
        // /health answered 200: the model is loaded.
        let info = try JSONDecoder().decode(Info.self, from: try ServeProcess.send("GET", port: port, path: "/info").1)
        #expect(info.ready)
        #expect(info.max_input_length == 64)
        #expect(info.model_dtype == "fp32")
        // The folder's name, not the server's path to it.
        #expect(info.model_id == "tiny-model")

        process.terminate()   // SIGTERM: a graceful stop
        let stopBy = Date().addingTimeInterval(10)
        while process.isRunning, Date() < stopBy { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!process.isRunning, "serve did not stop on SIGTERM")
    }
}
