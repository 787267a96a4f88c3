import Foundation
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

/// The mock hub (`Fixtures/hub/mock_hub.py`) run as a subprocess on 127.0.0.1, an ephemeral port.
///
/// Starting and querying it never blocks a thread of the concurrency pool: tests run in
/// parallel on a 2-core machine, where two blocked threads stall every other test.
final class MockHub: @unchecked Sendable {
    let port: Int
    let logFile: URL
    private let process: Process
    private let stdinPipe: Pipe

    /// The hub base URL to use as `HF_ENDPOINT`.
    var endpoint: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, logFile: URL, process: Process, stdinPipe: Pipe) {
        self.port = port
        self.logFile = logFile
        self.process = process
        self.stdinPipe = stdinPipe
    }

    /// Starts the server for `repos` (repository id → folder of files) with extra mock options,
    /// and waits (at most 10 s) for the port it prints.
    static func start(repos: [String: URL], options: [String] = [], scratch: URL) async throws -> MockHub {
        let logFile = scratch.appendingPathComponent("hub-log-\(UUID().uuidString).jsonl")
        let portFile = scratch.appendingPathComponent("hub-port-\(UUID().uuidString).txt")
        guard FileManager.default.createFile(atPath: portFile.path, contents: nil) else { throw MockHubError.noPort }
        var arguments = ["python3", Fixtures.url("hub/mock_hub.py").path, "--log", logFile.path]
        for (id, folder) in repos.sorted(by: { $0.key < $1.key }) { arguments += ["--repo", "\(id)=\(folder.path)"] }
        arguments += options
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let stdinPipe = Pipe()
        process.standardOutput = try FileHandle(forWritingTo: portFile)
        process.standardInput = stdinPipe
        try process.run()

        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let text = (try? String(contentsOf: portFile, encoding: .utf8)) ?? ""
            if text.hasSuffix("\n"), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return MockHub(port: port, logFile: logFile, process: process, stdinPipe: stdinPipe)
            }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(process.processIdentifier, SIGKILL)
        throw MockHubError.noPort
    }

    /// Stops the server and waits for it to exit.
    func stop() {
        guard process.isRunning else { return }
        // SIGKILL: a child spawned from a thread that blocks signals inherits that mask, and then
        // ignores SIGTERM (the mock unblocks it, but a stop must never depend on that).
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? stdinPipe.fileHandleForWriting.close()
    }

    deinit { stop() }

    /// One parsed line of the request log.
    struct Request {
        let method: String
        let path: String
        let status: Int
        let host: String
        let range: String?
        let authorization: String?
        let acceptEncoding: String?
        let cut: Bool
    }

    /// Every request served so far, in order.
    func requests() -> [Request] {
        guard let text = try? String(contentsOf: logFile, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return Request(method: object["method"] as? String ?? "", path: object["path"] as? String ?? "",
                           status: object["status"] as? Int ?? 0, host: object["host"] as? String ?? "",
                           range: object["range"] as? String, authorization: object["authorization"] as? String,
                           acceptEncoding: object["accept_encoding"] as? String, cut: object["cut"] as? Bool ?? false)
        }
    }
}

enum MockHubError: Error { case noPort }

/// A temporary folder removed when the value goes away.
final class ScratchDirectory: @unchecked Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("hub-test-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// A small fake model repository made at test time: the right file names, made-up contents.
struct FakeModel {
    let folder: URL
    let files: [String: Data]

    /// Sizes chosen so that with the mock's 10 kB LFS threshold `model.safetensors` (300 kB) and
    /// `linear_in_embedding.pt` go through the CDN redirect and the others are served directly.
    static func make(in scratch: URL, name: String = "repo") throws -> FakeModel {
        let folder = scratch.appendingPathComponent(name, isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var generator = SplitMix64(seed: 0x5EED)
        func bytes(_ count: Int) -> Data { Data((0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }) }
        let files: [String: Data] = [
            "config.json": Data(#"{"model_type": "bert", "hidden_size": 8}"#.utf8),
            "vocab.txt": Data("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n".utf8),
            "tokenizer_config.json": Data(#"{"do_lower_case": true}"#.utf8),
            "special_tokens_map.json": Data(#"{"cls_token": "[CLS]"}"#.utf8),
            "model.safetensors": bytes(300_000),
            "pytorch_model.bin": bytes(20_000),
            "linear_in_embedding.pt": bytes(12_000),
            "list_transformer.pt": bytes(5_000),
            "README.md": Data("# fake\n".utf8),
        ]
        for (name, data) in files { try data.write(to: folder.appendingPathComponent(name)) }
        return FakeModel(folder: folder, files: files)
    }

    /// The files the resolver is expected to fetch from this repository.
    static let expectedFiles: Set<String> = ["config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
                                             "model.safetensors", "linear_in_embedding.pt", "list_transformer.pt"]
}


/// Records every progress call.
final class RecordingProgress: DownloadProgressReporting, @unchecked Sendable {
    enum Event: Equatable {
        case started(String, Int64?, Int64)
        case progressed(String, Int64)
        case finished(String, Int64, Bool)
    }
    private let lock = NSLock()
    private var recorded: [Event] = []
    var events: [Event] { lock.withLock { recorded } }

    func downloadStarted(file: String, totalBytes: Int64?, resumedBytes: Int64) {
        lock.withLock { recorded.append(.started(file, totalBytes, resumedBytes)) }
    }
    func downloadProgressed(file: String, bytesOnDisk: Int64, totalBytes: Int64?) {
        lock.withLock { recorded.append(.progressed(file, bytesOnDisk)) }
    }
    func downloadFinished(file: String, bytesOnDisk: Int64, succeeded: Bool) {
        lock.withLock { recorded.append(.finished(file, bytesOnDisk, succeeded)) }
    }
}

/// Git's blob id: sha1("blob <size>\0" + content) — the ETag the hub gives small files — by Python's hashlib.
func gitBlobSHA1(_ data: Data, scratch: URL) async throws -> String {
    let input = scratch.appendingPathComponent("blob-\(UUID().uuidString)")
    try data.write(to: input)
    let script = "import hashlib; d=open('\(input.path)','rb').read(); print(hashlib.sha1(b'blob %d\\0' % len(d) + d).hexdigest())"
    let (status, output, errors) = try await runPython(script)
    guard status == 0 else { throw PythonError.failed(errors) }
    return output.trimmingCharacters(in: .whitespacesAndNewlines)
}

enum PythonError: Error { case failed(String) }

/// Runs python3 with a script and extra environment; returns (exit status, stdout, stderr).
/// Waits through the termination handler, so no thread of the concurrency pool is held.
func runPython(_ script: String, environment: [String: String] = [:]) async throws -> (Int32, String, String) {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hub-python-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let outFile = folder.appendingPathComponent("out"), errFile = folder.appendingPathComponent("err")
    _ = FileManager.default.createFile(atPath: outFile.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errFile.path, contents: nil)
    let python = Process()
    python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    python.arguments = ["python3", "-c", script]
    python.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    python.standardOutput = try FileHandle(forWritingTo: outFile)
    python.standardError = try FileHandle(forWritingTo: errFile)
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        python.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do {
            try python.run()
        } catch {
            python.terminationHandler = nil
            continuation.resume(throwing: error)
        }
    }
    let out = (try? String(contentsOf: outFile, encoding: .utf8)) ?? ""
    let err = (try? String(contentsOf: errFile, encoding: .utf8)) ?? ""
    return (status, out, err)
}

/// Whether Python's huggingface_hub is installed here (it is not in CI); found without importing it.
let huggingFaceHubAvailable: Bool = {
    let python = Process()
    python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    python.arguments = ["python3", "-c", "import importlib.util, sys; sys.exit(importlib.util.find_spec('huggingface_hub') is None)"]
    guard (try? python.run()) != nil else { return false }
    python.waitUntilExit()
    return python.terminationStatus == 0
}()
