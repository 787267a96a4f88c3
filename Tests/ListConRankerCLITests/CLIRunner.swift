import Foundation
import Testing

/// What one run of the `listconranker` executable did.
struct CLIResult: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String
    /// The run was stopped for taking longer than its time limit.
    var timedOut: Bool

    var description: String {
        "exit \(status)\(timedOut ? " (timed out)" : "")\n--- stdout\n\(stdout.prefix(2000))\n--- stderr\n\(stderr.prefix(2000))"
    }

    /// Non-blank lines of standard output.
    var stdoutLines: [String] {
        stdout.split(separator: "\n").map(String.init).filter { !$0.allSatisfy(\.isWhitespace) }
    }
}

/// Runs the `listconranker` product that SwiftPM built beside this test bundle (the test target
/// depends on the executable target so that it is always built first).
enum CLI {
    /// Exit statuses: ArgumentParser's for a usage mistake (EX_USAGE), ours for bad input found while running.
    static let usageError: Int32 = 64
    static let failure: Int32 = 1

    /// Children allowed at once. Swift Testing runs the tests in parallel, and dozens of
    /// processes on a few cores made single runs slow enough to hit their time limits.
    private static let slots = DispatchSemaphore(value: max(2, ProcessInfo.processInfo.activeProcessorCount))

    /// The products directory (`.build/debug` or the like). On Linux the test runner is itself an
    /// executable there; on macOS the runner loads a `.xctest` bundle that lies there.
    static let productsDirectory: URL? = {
        var candidates: [URL] = []
        #if os(macOS)
        candidates += Bundle.allBundles.filter { $0.bundlePath.hasSuffix(".xctest") }
            .map { $0.bundleURL.deletingLastPathComponent() }
        #endif
        candidates.append(Bundle.main.bundleURL)
        if let first = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: first).resolvingSymlinksInPath().deletingLastPathComponent())
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent("listconranker").path) }
    }()

    /// The executable, or a test failure that says where it was looked for.
    static func executable() throws -> URL {
        try #require(productsDirectory, "no built listconranker next to \(Bundle.main.bundleURL.path) or \(CommandLine.arguments.first ?? "?")")
            .appendingPathComponent("listconranker")
    }

    /// Runs `listconranker arguments…` with standard input from `stdinFile` (else empty), offline
    /// (no test may reach the network) with an empty hub cache unless `environment` says otherwise,
    /// and stops it after `timeLimit` seconds. `prefix` runs it under another program, such as `taskset`.
    static func run(_ arguments: [String], stdinFile: URL? = nil, environment extra: [String: String] = [:],
                    prefix: [String] = [], timeLimit: TimeInterval = 60) throws -> CLIResult {
        slots.wait()
        defer { slots.signal() }
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let outURL = scratch.url.appendingPathComponent("stdout")
        let errURL = scratch.url.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        defer { try? out.close(); try? err.close() }

        let process = Process()
        let binary = try executable()
        if prefix.isEmpty {
            process.executableURL = binary
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = prefix + [binary.path] + arguments
        }
        var environment = ProcessInfo.processInfo.environment
        environment["HF_HUB_OFFLINE"] = "1"
        environment["HF_HUB_CACHE"] = scratch.url.appendingPathComponent("hub-cache").path
        environment.merge(extra) { $1 }
        process.environment = environment
        // Files, not pipes: a full pipe would block the child while we wait for it to exit.
        process.standardOutput = out
        process.standardError = err
        process.standardInput = try stdinFile.map { try FileHandle(forReadingFrom: $0) } ?? FileHandle.nullDevice
        try process.run()

        let deadline = Date().addingTimeInterval(timeLimit)
        var timedOut = false
        while process.isRunning {
            if Date() > deadline {
                timedOut = true
                process.terminate()
                Thread.sleep(forTimeInterval: 0.5)
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                break
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        process.waitUntilExit()
        return CLIResult(status: process.terminationStatus,
                         stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                         stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "",
                         timedOut: timedOut)
    }
}

/// A fresh directory; `defer { directory.remove() }` where it is made (an explicit call, because
/// a deinit may run as soon as the value is last used, before a child process reads the files).
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("listconranker-cli-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: url) }

    /// Writes `text` to a file in the directory and returns its URL.
    func file(_ name: String, _ text: String) throws -> URL {
        let file = url.appendingPathComponent(name)
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file
    }
}
