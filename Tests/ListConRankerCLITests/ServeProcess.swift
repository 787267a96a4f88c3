import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A `listconranker serve` process for the CLI tests, and plain HTTP requests to it. Synchronous
/// on purpose: the other tests block the concurrency pool's threads while their processes run.
enum ServeProcess {
    struct StartError: Error, CustomStringConvertible { let description: String }

    /// `serve` with `arguments` on a free loopback port, its standard error in `log`; returns once
    /// `/health` answers 200, with the process and its port (killed, and an error, if it does not
    /// within `timeLimit` seconds).
    static func start(_ arguments: [String], environment extra: [String: String] = [:], log: URL,
                      timeLimit: TimeInterval = 60) throws -> (Process, Int) {
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = try CLI.executable()
        process.arguments = ["serve", "--host", "127.0.0.1", "--port", "0"] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(extra) { _, new in new }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeLimit)
        while Date() < deadline, process.isRunning {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"port=\d+"#, options: .regularExpression),
               let port = Int(text[range].dropFirst("port=".count)) {
                while Date() < deadline, process.isRunning {
                    if let (status, _) = try? send("GET", port: port, path: "/health"), status == 200 { return (process, port) }
                    Thread.sleep(forTimeInterval: 0.05)
                }
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        throw StartError(description: "serve did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    }

    /// One HTTP request, waited for on URLSession's own queue; returns the status and body.
    static func send(_ method: String, port: Int, path: String, body: [String: Any]? = nil,
                     key: String? = nil, timeout: TimeInterval = 30) throws -> (Int, Data) {
        final class Box: @unchecked Sendable { var result: Result<(Int, Data), Error> = .failure(URLError(.timedOut)) }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.timeoutInterval = timeout
        if let body {
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if let key { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let response = response as? HTTPURLResponse {
                box.result = .success((response.statusCode, data ?? Data()))
            } else {
                box.result = .failure(error ?? URLError(.badServerResponse))
            }
            done.signal()
        }.resume()
        done.wait()
        return try box.result.get()
    }
}
