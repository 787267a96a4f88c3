import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The parts of an HTTP response the hub client reads; header names are lowercased.
struct HubHTTPResponse: Sendable {
    /// The URL that answered (after any redirects that were followed).
    let url: URL
    let status: Int
    let headers: [String: String]

    func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// A transport-level failure: no HTTP answer, or the connection broke during the body.
struct HubTransportError: Error, Sendable {
    let url: String
    let detail: String
}

/// Which redirects a request follows.
enum HubRedirectPolicy: Sendable {
    /// Follow only redirects to the same scheme, host and port (a renamed repository); stop at
    /// a redirect elsewhere (the CDN) and return it, as huggingface_hub does for its HEAD calls:
    /// the hub's headers on the 302 itself carry the file's hash and size.
    case sameOrigin
    /// Follow every redirect, dropping `Authorization` when the origin changes so the token
    /// never leaves the hub.
    case all
}

/// A small HTTP client over Foundation's `URLSession` (libcurl underneath on Linux).
///
/// Each request gets its own session whose delegate sees every redirect and every body piece:
/// bodies of successful downloads are written to a file as they arrive, never held whole in
/// memory; other bodies (JSON, error pages) are kept in memory up to a limit.
struct HubHTTPClient: Sendable {
    /// Seconds without receiving anything before a request fails (libcurl's timer is re-armed by each piece).
    let timeout: TimeInterval
    /// Bodies kept in memory beyond this size are cut (they are only ever JSON or error text).
    let memoryBodyLimit = 32 << 20

    /// Sends a request and returns the response with its body in memory.
    func send(_ request: URLRequest, redirects: HubRedirectPolicy) async throws -> (HubHTTPResponse, Data) {
        let result = try await perform(request, redirects: redirects, destination: { _ in nil }, progress: nil)
        return (result.response, result.memoryBody)
    }

    /// Sends a request; `destination` sees the final response first and returns the file handle
    /// its body is appended to (nil keeps the body in memory, e.g. for an error status).
    /// `progress` receives the number of body bytes written to the file so far.
    func download(_ request: URLRequest, redirects: HubRedirectPolicy,
                  destination: @escaping @Sendable (HubHTTPResponse) throws -> FileHandle?,
                  progress: (@Sendable (Int64) -> Void)?) async throws -> (HubHTTPResponse, Data) {
        let result = try await perform(request, redirects: redirects, destination: destination, progress: progress)
        return (result.response, result.memoryBody)
    }

    private func perform(_ request: URLRequest, redirects: HubRedirectPolicy,
                         destination: @escaping @Sendable (HubHTTPResponse) throws -> FileHandle?,
                         progress: (@Sendable (Int64) -> Void)?) async throws -> TransferDelegate.Outcome {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalAndRemoteCacheData
        configuration.httpCookieStorage = nil
        let delegate = TransferDelegate(policy: redirects, destination: destination, progress: progress,
                                        memoryLimit: memoryBodyLimit)
        // A serial queue keeps the delegate's callbacks in order: response, body pieces, completion.
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        let session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: queue)
        defer { session.finishTasksAndInvalidate() }
        let task = session.dataTask(with: request)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                delegate.start(task: task, continuation: continuation)
            }
        } onCancel: {
            task.cancel()
        }
    }
}

extension HubHTTPClient {
    /// Same scheme, host and port (default ports filled in), as huggingface_hub compares origins.
    static func sameOrigin(_ a: URL, _ b: URL) -> Bool {
        func port(_ url: URL) -> Int? { url.port ?? (url.scheme == "https" ? 443 : url.scheme == "http" ? 80 : nil) }
        return a.scheme?.lowercased() == b.scheme?.lowercased() && a.host?.lowercased() == b.host?.lowercased()
            && port(a) == port(b)
    }

    /// The request to send after a redirect from `from`: the same headers (Range included),
    /// minus the token when the redirect leaves the origin that received it.
    static func redirected(_ request: URLRequest, from: URL) -> URLRequest {
        guard let to = request.url, !sameOrigin(from, to) else { return request }
        var stripped = request
        stripped.setValue(nil, forHTTPHeaderField: "Authorization")
        return stripped
    }

}

/// Receives one task's callbacks on its session's serial delegate queue.
private final class TransferDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    struct Outcome: Sendable {
        let response: HubHTTPResponse
        let memoryBody: Data
    }

    private let policy: HubRedirectPolicy
    private let destination: @Sendable (HubHTTPResponse) throws -> FileHandle?
    private let progress: (@Sendable (Int64) -> Void)?
    private let memoryLimit: Int
    // Touched only on the serial delegate queue (and `continuation` once before the task starts).
    private var continuation: CheckedContinuation<Outcome, Error>?
    private var file: FileHandle?
    private var response: HubHTTPResponse?
    private var memoryBody = Data()
    private var bytesWritten: Int64 = 0
    private var sinkError: Error?

    init(policy: HubRedirectPolicy, destination: @escaping @Sendable (HubHTTPResponse) throws -> FileHandle?,
         progress: (@Sendable (Int64) -> Void)?, memoryLimit: Int) {
        self.policy = policy
        self.destination = destination
        self.progress = progress
        self.memoryLimit = memoryLimit
    }

    func start(task: URLSessionDataTask, continuation: CheckedContinuation<Outcome, Error>) {
        self.continuation = continuation
        task.resume()
    }

    static func convert(_ response: URLResponse?, fallbackURL: URL?) -> HubHTTPResponse? {
        guard let http = response as? HTTPURLResponse, let url = http.url ?? fallbackURL else { return nil }
        var headers: [String: String] = [:]
        for (key, value) in http.allHeaderFields {
            if let key = key as? String, let value = value as? String { headers[key.lowercased()] = value }
        }
        return HubHTTPResponse(url: url, status: http.statusCode, headers: headers)
    }

    private func begin(_ converted: HubHTTPResponse) {
        guard response == nil else { return }
        response = converted
        do {
            file = try destination(converted)
        } catch {
            sinkError = error
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        if let converted = TransferDelegate.convert(response, fallbackURL: dataTask.currentRequest?.url) {
            begin(converted)
        }
        completionHandler(sinkError == nil ? .allow : .cancel)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard sinkError == nil else { return }
        if response == nil, let converted = TransferDelegate.convert(dataTask.response, fallbackURL: dataTask.currentRequest?.url) {
            begin(converted)
        }
        if let file {
            do {
                try file.write(contentsOf: data)
                bytesWritten += Int64(data.count)
                progress?(bytesWritten)
            } catch {
                sinkError = error
                dataTask.cancel()
            }
        } else if memoryBody.count < memoryLimit {
            memoryBody.append(data.prefix(memoryLimit - memoryBody.count))
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        guard let from = task.originalRequest?.url ?? task.currentRequest?.url, let to = request.url else {
            completionHandler(nil)
            return
        }
        switch policy {
        case .sameOrigin:
            completionHandler(HubHTTPClient.sameOrigin(from, to) ? request : nil)
        case .all:
            completionHandler(HubHTTPClient.redirected(request, from: from))
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        guard let continuation else { return }
        self.continuation = nil
        let url = task.currentRequest?.url ?? task.originalRequest?.url
        if let sinkError {
            continuation.resume(throwing: sinkError)
        } else if let error {
            continuation.resume(throwing: HubTransportError(url: url?.absoluteString ?? "?", detail: TransferDelegate.describe(error)))
        } else if let final = response ?? TransferDelegate.convert(task.response, fallbackURL: url) {
            continuation.resume(returning: Outcome(response: final, memoryBody: memoryBody))
        } else {
            continuation.resume(throwing: HubTransportError(url: url?.absoluteString ?? "?", detail: "no HTTP response"))
        }
    }

    static func describe(_ error: Error) -> String {
        if let urlError = error as? URLError {
            switch urlError.code {
            case .timedOut: return "timed out"
            case .cannotConnectToHost: return "connection refused"
            case .cannotFindHost, .dnsLookupFailed: return "host not found"
            case .networkConnectionLost: return "connection lost"
            case .notConnectedToInternet: return "not connected to the internet"
            case .cancelled: return "cancelled"
            default: return "\(urlError.localizedDescription) (URLError \(urlError.code.rawValue))"
            }
        }
        return error.localizedDescription
    }
}
