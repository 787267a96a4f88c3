import Foundation
import Testing

/// `--model owner/name` goes through the hub cache, resolved with the async API.
@Suite struct ModelResolutionCLITests {
    static let commit = "0123456789abcdef0123456789abcdef01234567"

    /// A Hugging Face cache holding the tiny model as `repository` (`local/tiny` unless given) at
    /// `main`, as huggingface_hub lays it out (refs/main → commit, snapshots/<commit>/<file> → the file).
    static func makeCache(in directory: TemporaryDirectory, repository name: String = "local/tiny") throws -> URL {
        let cache = directory.url.appendingPathComponent("hub", isDirectory: true)
        let folder = "models--" + name.replacingOccurrences(of: "/", with: "--")
        let repository = cache.appendingPathComponent(folder, isDirectory: true)
        let snapshot = repository.appendingPathComponent("snapshots/\(commit)", isDirectory: true)
        let manager = FileManager.default
        try manager.createDirectory(at: repository.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try manager.createDirectory(at: snapshot, withIntermediateDirectories: true)
        try commit.write(to: repository.appendingPathComponent("refs/main"), atomically: true, encoding: .utf8)
        for file in try manager.contentsOfDirectory(atPath: CLIFixtures.tinyModel) {
            try manager.createSymbolicLink(atPath: snapshot.appendingPathComponent(file).path,
                                           withDestinationPath: CLIFixtures.tinyModel + "/" + file)
        }
        return cache
    }

    /// With the blocking resolver (a semaphore waiting for a detached task, called from the async
    /// `main`) this hangs where the cooperative pool has one thread: Darwin with the strict pool
    /// below, or one CPU. Linux's dispatch adds a thread when one blocks, so there the source
    /// check after this test is what guards.
    @Test func hubIdResolvesFromTheCacheOnOneThread() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let cache = try Self.makeCache(in: directory)
        let environment = ["HF_HUB_CACHE": cache.path, "LIBDISPATCH_COOPERATIVE_POOL_STRICT": "1"]
        let oneCPU = FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset") ? ["taskset", "-c", "0"] : []

        let viaHub = try CLI.run(["score", "--model", "local/tiny", "--input", try directory.file("l.jsonl", try queryLine(["q", "a", "b"])).path],
                                 environment: environment, prefix: oneCPU, timeLimit: 30)
        #expect(!viaHub.timedOut, "resolving the model hung: \(viaHub)")
        try #require(viaHub.status == 0, "\(viaHub)")
        let viaPath = try CLI.run(["score", "--model", CLIFixtures.tinyModel, "--input", directory.url.appendingPathComponent("l.jsonl").path])
        #expect(viaHub.stdout == viaPath.stdout && !viaPath.stdout.isEmpty, "\(viaHub)\n\(viaPath)")

        let download = try CLI.run(["download", "local/tiny"], environment: environment, prefix: oneCPU, timeLimit: 30)
        #expect(!download.timedOut && download.status == 0, "\(download)")
        #expect(download.stdout.hasSuffix("snapshots/\(Self.commit)\n"), "\(download)")

        let tokenize = try CLI.run(["tokenize", "--model", "local/tiny@main"], stdinFile: try directory.file("t.txt", "你好\n"),
                                   environment: environment, prefix: oneCPU, timeLimit: 30)
        #expect(!tokenize.timedOut && tokenize.status == 0 && tokenize.stdout.contains("\"ids\""), "\(tokenize)")
    }

    /// The command-line tool calls the async resolver only: a blocking bridge inside the async
    /// `main` can deadlock the cooperative pool.
    @Test func noBlockingResolutionInTheCommandLineTool() throws {
        let sources = CLIFixtures.root.deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/listconranker")
        let files = try FileManager.default.contentsOfDirectory(atPath: sources.path).filter { $0.hasSuffix(".swift") }
        #expect(!files.isEmpty)
        for file in files {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            #expect(!text.contains("resolveBlocking"), "\(file) blocks on the hub resolver")
        }
    }

    @Test func offlineWithoutTheModelCachedSaysSo() throws {
        let result = try CLI.run(["rerank", "--model", "nobody/missing-model", "q", "p"])
        #expect(result.status == CLI.failure, "\(result)")
        #expect(result.stderr.hasPrefix("Error: ") && result.stderr.contains("nobody/missing-model"), "\(result)")
        #expect(result.stderr.contains("HF_HUB_OFFLINE"), "\(result)")
    }
}
