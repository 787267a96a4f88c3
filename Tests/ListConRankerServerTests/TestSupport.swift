import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
@testable import ListConRankerServer
import ListConRankerFakeEngine

/// A logger that keeps test output readable.
let quietLogger: Logger = {
    var logger = Logger(label: "listconranker.server.tests")
    logger.logLevel = .critical
    return logger
}()

/// The body of a JSON request.
func json(_ object: Any) throws -> ByteBuffer {
    ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object))
}

/// A response body parsed as JSON.
func parsed(_ body: ByteBuffer) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(body.readableBytesView), options: [.fragmentsAllowed])
}

/// An error body `{"error": …, "error_type": …}`, or nil if the body has another shape.
func errorBody(_ response: TestResponse) throws -> (error: String, type: String)? {
    guard let object = try parsed(response.body) as? [String: Any],
          let error = object["error"] as? String, let type = object["error_type"] as? String,
          object.count == 2
    else { return nil }
    return (error, type)
}

extension TestClientProtocol {
    /// POSTs `object` as JSON.
    func post(_ uri: String, _ object: Any) async throws -> TestResponse {
        try await execute(uri: uri, method: .post, headers: [.contentType: "application/json"], body: json(object))
    }

    /// POSTs a ready JSON body.
    func post(_ uri: String, body: ByteBuffer) async throws -> TestResponse {
        try await execute(uri: uri, method: .post, headers: [.contentType: "application/json"], body: body)
    }

    func get(_ uri: String) async throws -> TestResponse {
        try await execute(uri: uri, method: .get)
    }
}

/// A one-shot barrier: `wait()` suspends until `open()`.
actor Gate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func open() {
        isOpen = true
        for waiter in waiters { waiter.resume() }
        waiters.removeAll()
    }
}

/// The service over a `TokenOverlapEngine` that finishes loading only when `gate` opens: how a
/// test sees the service while its model loads.
func applicationLoading(behind gate: Gate) throws -> some ApplicationProtocol {
    try RerankService.makeApplication(
        loadingEngine: {
            await gate.wait()
            return TokenOverlapEngine()
        },
        configuration: .init(), logger: quietLogger)
}

/// A thread-safe counter for test closures.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    var value: Int { lock.withLock { count } }

    /// Adds one; returns the new value.
    @discardableResult
    func increment() -> Int { lock.withLock { count += 1; return count } }

    func decrement() { lock.withLock { count -= 1 } }
}

/// Wraps an engine and records how it is called: how many calls overlap, what was asked, and
/// (when given a gate) holds every call until the gate opens.
final class RecordingEngine: RerankEngine, @unchecked Sendable {
    struct Call: Sendable {
        var query: String
        var texts: [String]
        var raw: Bool
        var iterative: Bool
    }

    let base: TokenOverlapEngine
    let gate: Gate?
    private let lock = NSLock()
    private var _calls: [Call] = []
    private var running = 0
    private var _maxOverlap = 0
    private var _started = 0

    init(base: TokenOverlapEngine = TokenOverlapEngine(), gate: Gate? = nil) {
        self.base = base
        self.gate = gate
    }

    var modelName: String { base.modelName }
    var precision: String { base.precision }
    var maxInputLength: Int { base.maxInputLength }
    func tokenCount(_ text: String) -> Int {
        tokenizedTexts.increment()
        return base.tokenCount(text)
    }

    /// Texts the service asked this engine to count tokens of (its request validation).
    let tokenizedTexts = Counter()

    var calls: [Call] { lock.withLock { _calls } }
    var maxOverlap: Int { lock.withLock { _maxOverlap } }
    var started: Int { lock.withLock { _started } }

    func scores(query: String, texts: [String], raw: Bool, iterative: Bool) async throws -> [Float] {
        lock.withLock {
            _calls.append(Call(query: query, texts: texts, raw: raw, iterative: iterative))
            running += 1
            _started += 1
            _maxOverlap = max(_maxOverlap, running)
        }
        defer { lock.withLock { running -= 1 } }
        if let gate { await gate.wait() }
        return try await base.scores(query: query, texts: texts, raw: raw, iterative: iterative)
    }
}

/// An engine whose inference always fails, or returns the wrong number of scores.
struct BrokenEngine: RerankEngine {
    enum Failure: Error { case deviceLost }
    var wrongCount = false
    var modelName: String { "broken" }
    var precision: String { "bf16" }
    var maxInputLength: Int { 512 }
    func tokenCount(_ text: String) -> Int { text.count + 2 }
    func scores(query: String, texts: [String], raw: Bool, iterative: Bool) async throws -> [Float] {
        if wrongCount { return [0.5] + texts.map { _ in 0.5 } }
        throw Failure.deviceLost
    }
}

/// An engine on a "GPU" whose first inference fails for good, as a faulting kernel leaves a CUDA
/// context: that call throws, and from then on ``deviceFailure`` says why.
final class FailingDeviceEngine: RerankEngine, @unchecked Sendable {
    struct LaunchFailed: Error, CustomStringConvertible {
        var description: String { FailingDeviceEngine.message }
    }
    static let message = "cuLaunchKernel: unspecified launch failure (CUDA_ERROR_LAUNCH_FAILED, 719)"
    private let lock = NSLock()
    private var failure: String?
    var modelName: String { "failing-device" }
    var precision: String { "bf16" }
    var device: String { "cuda:0" }
    var maxInputLength: Int { 512 }
    var deviceFailure: String? { lock.withLock { failure } }
    func tokenCount(_ text: String) -> Int { text.count + 2 }
    func scores(query: String, texts: [String], raw: Bool, iterative: Bool) async throws -> [Float] {
        lock.withLock { failure = Self.message }
        throw LaunchFailed()
    }
}

/// Polls `condition` every 10 ms for up to 5 s; true as soon as it holds.
func eventually(_ condition: () async throws -> Bool) async rethrows -> Bool {
    for _ in 0..<500 {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return false
}
