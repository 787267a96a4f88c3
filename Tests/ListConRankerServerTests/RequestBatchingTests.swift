import Foundation
import Hummingbird
import HummingbirdTesting
import ListConRanker
import Prometheus
import Testing
@testable import ListConRankerServer

/// Requests that arrive together scored in one pass (`--batching`): the queue's grouping, one
/// failing request in a batch, and the real model's scores batched against alone.
@Suite("Request batching")
struct RequestBatchingTests {
    /// A scoring job of `tokens` tokens whose query names it.
    static func job(_ query: String, tokens: Int = 10) -> RequestValidation.ScoringJob {
        .init(query: query, texts: ["a passage"], raw: false, iterative: false, totalTokens: tokens)
    }

    /// Runs `queries` through `queue` at once; each job's score is its query's length, so a
    /// request that got another's result shows. Returns each request's scores and the batches'
    /// queries in the order they ran.
    static func runTogether(_ queries: [String], queue: InferenceQueue, policy: BatchingPolicy,
                            tokens: Int = 10) async throws -> (scores: [String: [Float]], batches: [[String]]) {
        let batches = BatchLog()
        let scores = try await withThrowingTaskGroup(of: (String, [Float]).self) { group in
            for query in queries {
                group.addTask {
                    let (_, scores) = try await queue.runScoring(
                        preparing: { job(query, tokens: tokens) }, job: \.self, batching: policy
                    ) { jobs in
                        batches.append(jobs.map(\.query))
                        return jobs.map { .success([Float($0.query.count)]) }
                    }
                    return (query, scores)
                }
                // Arrive in this order.
                try await Task.sleep(for: .milliseconds(5))
            }
            var scores = [String: [Float]]()
            for try await (query, value) in group { scores[query] = value }
            return scores
        }
        return (scores, batches.value)
    }

    @Test func requestsArrivingWithinTheDelayShareOneTurn() async throws {
        let queue = InferenceQueue(capacity: 8)
        let policy = BatchingPolicy(enabled: true, maxTokens: 1_000, delay: .milliseconds(400))
        let (scores, batches) = try await Self.runTogether(["a", "bb", "ccc", "dddd"], queue: queue, policy: policy)
        #expect(batches == [["a", "bb", "ccc", "dddd"]])
        #expect(scores == ["a": [1], "bb": [2], "ccc": [3], "dddd": [4]])
        #expect(await queue.admitted == 0)
    }

    /// The first batch fills the token budget; the rest go in the next turn, without a delay.
    @Test func theTokenBudgetSplitsBatches() async throws {
        let queue = InferenceQueue(capacity: 8)
        let policy = BatchingPolicy(enabled: true, maxTokens: 25, delay: .milliseconds(400))
        let (scores, batches) = try await Self.runTogether(["a", "bb", "ccc", "dddd"], queue: queue, policy: policy)
        #expect(batches == [["a", "bb"], ["ccc", "dddd"]])
        #expect(scores == ["a": [1], "bb": [2], "ccc": [3], "dddd": [4]])
    }

    @Test func withBatchingOffEachRequestHasItsOwnTurn() async throws {
        let queue = InferenceQueue(capacity: 8)
        let gate = Gate()
        // The first request holds the model until the others queue behind it.
        async let held: Int = queue.run { await gate.wait(); return 0 }
        #expect(await eventually { await queue.admitted == 1 })
        async let rest = Self.runTogether(["a", "bb", "ccc"], queue: queue, policy: .off)
        #expect(await eventually { await queue.admitted == 4 })
        await gate.open()
        _ = try await held
        let (scores, batches) = try await rest
        #expect(batches == [["a"], ["bb"], ["ccc"]])
        #expect(scores == ["a": [1], "bb": [2], "ccc": [3]])
    }

    /// A waiting request whose client goes away leaves the queue; the others are batched as if
    /// it had never come.
    @Test func aCancelledWaiterIsNotBatched() async throws {
        let queue = InferenceQueue(capacity: 8)
        let policy = BatchingPolicy(enabled: true, maxTokens: 1_000, delay: .zero)
        let gate = Gate()
        async let held: Int = queue.run { await gate.wait(); return 0 }
        #expect(await eventually { await queue.admitted == 1 })
        let batches = BatchLog()
        let score: @Sendable ([RequestValidation.ScoringJob]) async -> [Result<[Float], any Error>] = { jobs in
            batches.append(jobs.map(\.query))
            return jobs.map { .success([Float($0.query.count)]) }
        }
        let leaving = Task { try await queue.runScoring(preparing: { Self.job("x") }, job: \.self, batching: policy, score: score) }
        #expect(await eventually { await queue.admitted == 2 })
        async let staying = queue.runScoring(preparing: { Self.job("yy") }, job: \.self, batching: policy, score: score)
        #expect(await eventually { await queue.admitted == 3 })
        leaving.cancel()
        await #expect(throws: CancellationError.self) { try await leaving.value }
        #expect(await queue.admitted == 2)
        await gate.open()
        _ = try await held
        #expect(try await staying.1 == [2])
        #expect(batches.value == [["yy"]])
        #expect(await queue.admitted == 0)
    }

    /// A batch that fails (one list too large for the GPU, say) is scored again request by
    /// request: only the failing request gets an error.
    @Test func aFailingRequestFailsAloneInItsBatch() async throws {
        let engine = PoisonEngine()
        let scorer = BatchScorer(engine: engine, cache: nil, metrics: ServiceMetrics(registry: PrometheusCollectorRegistry()))
        let results = await scorer.score([Self.job("fine"), Self.job("poison"), Self.job("also fine")])
        #expect(engine.batchCalls.value == 1)
        #expect(try results[0].get() == [4])
        #expect(throws: PoisonEngine.Poisoned.self) { try results[1].get() }
        #expect(try results[2].get() == [9])
    }

    /// The real model: requests batched together get the scores each gets alone (the library,
    /// unbatched), through the vector cache and without it, conventional, raw and iterative.
    @Test(arguments: [0, 64]) func batchedScoresAreTheScoresAlone(cacheMB: Int) async throws {
        let engine = try TinyModel.engine()
        let reference = try Reranker(modelDirectory: TinyModel.directory)
        let passages = samplePassages(30)
        let requests: [(query: String, texts: [String], raw: Bool)] = [
            ("高血压患者应该注意什么？", Array(passages[0..<6]), false),
            ("每天散步有什么好处", Array(passages[3..<9]) + [passages[3]], false),
            ("睡眠多少小时合适", Array(passages[0..<4]), true),
            ("少吃盐", passages, false),   // 30 passages: iterative inference
            ("蔬菜", [passages[7]], false),
        ]
        let expected = try requests.map { request in
            request.raw ? try reference.logits(query: request.query, passages: request.texts)
                : request.texts.count > 20 ? try reference.iterativeScores(query: request.query, passages: request.texts)
                : try reference.scores(query: request.query, passages: request.texts)
        }
        let configuration = ServiceConfiguration(batching: .on, maxBatchDelayMilliseconds: 500, vectorCacheMegabytes: cacheMB)
        let app = try RerankService.makeApplication(engine: engine, configuration: configuration, logger: quietLogger)
        try await app.test(.router) { client in
            let scores = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
                for (i, request) in requests.enumerated() {
                    group.addTask {
                        let response = try await client.post(
                            "/rerank", ["query": request.query, "texts": request.texts, "raw_scores": request.raw])
                        #expect(response.status == .ok)
                        let results = try #require(try parsed(response.body) as? [[String: Any]])
                        var scores = [Float](repeating: .nan, count: request.texts.count)
                        for result in results {
                            scores[result["index"] as? Int ?? 0] = Float(result["score"] as? Double ?? .nan)
                        }
                        return (i, scores)
                    }
                }
                var scores = [[Float]](repeating: [], count: requests.count)
                for try await (i, value) in group { scores[i] = value }
                return scores
            }
            for (i, request) in requests.enumerated() {
                #expect(maxDifference(scores[i], expected[i]) <= 1e-5, "request \(i): \(request.query)")
            }
            let batches = try #require(try await client.metric("listconranker_batch_size_requests_count"))
            #expect(try await client.metric("listconranker_batch_size_requests_sum") == Double(requests.count))
            #expect(batches < Double(requests.count), "no two requests were batched")
        }
    }
}

extension RequestBatchingTests {
    /// `auto` batches on a GPU engine only; the delay must be a sane number of milliseconds.
    @Test func thePolicyFollowsTheDeviceAndTheDelayIsChecked() throws {
        let gpu = PoisonEngine(device: "cuda:0"), cpu = PoisonEngine()
        #expect(ServiceConfiguration().batchingPolicy(for: gpu)
            == BatchingPolicy(enabled: true, maxTokens: 16_384, delay: .milliseconds(2)))
        #expect(ServiceConfiguration().batchingPolicy(for: cpu) == .off)
        #expect(ServiceConfiguration(batching: .on).batchingPolicy(for: cpu).enabled)
        #expect(ServiceConfiguration(batching: .off).batchingPolicy(for: gpu) == .off)
        #expect(throws: ServiceConfigurationError(message: "max-batch-delay-ms must be in 0...10000, got -1")) {
            try ServiceConfiguration(maxBatchDelayMilliseconds: -1).validated()
        }
        #expect(try ServiceConfiguration(maxBatchDelayMilliseconds: 0).validated().maxBatchDelayMilliseconds == 0)
    }
}

/// The queries of each batch, in the order the batches ran.
final class BatchLog: @unchecked Sendable {
    private let lock = NSLock()
    private var batches: [[String]] = []
    var value: [[String]] { lock.withLock { batches } }
    func append(_ batch: [String]) { lock.withLock { batches.append(batch) } }
}

/// Scores each passage with its query's length, and fails any call that holds the query "poison".
final class PoisonEngine: BatchScoringEngine, @unchecked Sendable {
    struct Poisoned: Error {}
    let batchCalls = Counter()
    let device: String
    init(device: String = "cpu") { self.device = device }
    var modelName: String { "poison" }
    var precision: String { "fp32" }
    var maxInputLength: Int { 512 }
    var hiddenSize: Int { 4 }
    func tokenCount(_ text: String) -> Int { text.count + 2 }
    func encoderIdentity() async throws -> String { "poison" }
    func pooledVectors(for texts: [String]) async throws -> [[Float]] { texts.map { _ in [0, 0, 0, 0] } }

    private func score(_ query: String, count: Int) throws -> [Float] {
        guard query != "poison" else { throw Poisoned() }
        return [Float](repeating: Float(query.count), count: count)
    }

    func scores(query: String, texts: [String], raw: Bool, iterative: Bool) async throws -> [Float] {
        try score(query, count: texts.count)
    }

    func scores(query: String, passageVectors: [[Float]], raw: Bool, iterative: Bool) async throws -> [Float] {
        try score(query, count: passageVectors.count)
    }

    func scores(batch: [ScoringList]) async throws -> ScoredBatch {
        batchCalls.increment()
        return ScoredBatch(scores: try batch.map { try score($0.query, count: $0.passages.count) }, encodedVectors: [:])
    }
}
