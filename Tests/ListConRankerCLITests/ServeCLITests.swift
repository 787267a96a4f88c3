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
        let log = directory.url.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let logHandle = try FileHandle(forWritingTo: log)
        defer { try? logHandle.close() }
        let process = Process()
        process.executableURL = try CLI.executable()
        process.arguments = ["serve", "--model", CLIFixtures.tinyModel, "--host", "127.0.0.1", "--port", "0",
                             "--max-length", "64", "--encoder-batch-tokens", "32", "--precision", "fp32"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = logHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }

        // The bound port, from the "host=… port=… Listening" log line.
        var port: Int?
        let deadline = Date().addingTimeInterval(60)
        while port == nil, Date() < deadline, process.isRunning {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"port=\d+"#, options: .regularExpression) {
                port = Int(text[range].dropFirst("port=".count))
            } else {
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        let bound = try #require(port, "no port in the log: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")

        struct Info: Decodable { let ready: Bool; let max_input_length: Int?; let model_dtype: String?; let model_id: String? }
        var info: Info?
        while Date() < deadline {
            let data = try Self.get(URL(string: "http://127.0.0.1:\(bound)/info")!)
            info = try JSONDecoder().decode(Info.self, from: data)
            if info?.ready == true { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(info?.ready == true)
        #expect(info?.max_input_length == 64)
        #expect(info?.model_dtype == "fp32")
        // The folder's name, not the server's path to it.
        #expect(info?.model_id == "tiny-model")

        process.terminate()   // SIGTERM: a graceful stop
        let stopBy = Date().addingTimeInterval(10)
        while process.isRunning, Date() < stopBy { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!process.isRunning, "serve did not stop on SIGTERM")
    }

    /// The body of a GET, waited for on URLSession's own queue rather than the concurrency pool.
    private static func get(_ url: URL) throws -> Data {
        final class Box: @unchecked Sendable { var result: Result<Data, Error> = .failure(URLError(.timedOut)) }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        var request = URLRequest(url: url)
        request.timeoutInterval = 10
        URLSession.shared.dataTask(with: request) { data, _, error in
            box.result = data.map { .success($0) } ?? .failure(error ?? URLError(.badServerResponse))
            done.signal()
        }.resume()
        done.wait()
        return try box.result.get()
    }
}
