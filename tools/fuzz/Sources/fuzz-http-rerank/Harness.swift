// The rerank routes' request bodies: the first byte picks the route (`POST /rerank`, or
// `POST /v1/rerank` without or with a feature store, the latter taking `document_ids`) and the
// limits (max-client-batch-size, max-batch-tokens, the model's maximum length), the rest is the
// body, handed to `RerankRequestDecoding` exactly as the route hands it the collected bytes.
// Bad input must come back as a 413 or 422 `ServiceError`, never anything a client would see as
// a 5xx; a request that passes must respect every limit. No server, no model: the engine is a
// stand-in whose token count is the character count + 2, as the service tests' fake engine.
import Foundation
import FuzzSupport
import ListConRanker
@testable import ListConRankerServer

/// Counts tokens as characters + 2 ([CLS] and [SEP]); never asked to score.
private struct CountingEngine: RerankEngine {
    let modelName = "fuzz"
    let precision = "fp32"
    let maxInputLength: Int
    func tokenCount(_ text: String) -> Int { text.count + 2 }
    func scores(query: String, texts: [String], raw: Bool, iterative: Bool) async throws -> [Float] {
        invariantFailed("the harness never scores")
    }
}

/// One setting of the limits; index 0 is the service's defaults.
private struct Limits {
    let configuration: ServiceConfiguration
    let engine: CountingEngine
}

/// 48 combinations: client batch size (the default, 1, 3, and 21 to cross the iterative
/// threshold of 20), batch tokens (the default, 6, 40, 300) and maximum length (512, 3, 12).
private let limits: [Limits] = (0..<48).map { index in
    let configuration = ServiceConfiguration(
        maxClientBatchSize: [1_000, 1, 3, IterativeInference.threshold + 1][index % 4],
        maxBatchTokens: [16_384, 6, 40, 300][(index / 4) % 4])
    do {
        return Limits(configuration: try configuration.validated(),
                      engine: CountingEngine(maxInputLength: [512, 3, 12][index / 16]))
    } catch {
        invariantFailed("limits \(index) are not a valid configuration: \(error)")
    }
}

private enum Route: CaseIterable {
    case tei, cohere, cohereWithStore
}

@main enum Harness {
    static func main() {
        precondition(limits.count == 48)
        runLibFuzzer { data, size in fuzz(data, size) }
    }
}

/// One input; returns 0 (libFuzzer's convention for "keep going").
private func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size >= 1 else { return 0 }
    let route = Route.allCases[Int(data[0]) % 3]
    let setting = limits[(Int(data[0]) / 3) % limits.count]
    let body = Data(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let configuration = setting.configuration
    let engine = setting.engine

    do {
        switch route {
        case .tei:
            let plan = try RerankRequestDecoding.tei(body: body, configuration: configuration, engine: engine)
            checkTEI(plan, configuration, engine)
        case .cohere, .cohereWithStore:
            let hasStore = route == .cohereWithStore
            let plan = try RerankRequestDecoding.cohere(
                body: body, configuration: configuration, engine: engine, hasFeatureStore: hasStore)
            checkCohere(plan, configuration, engine, hasStore: hasStore)
        }
    } catch let error as ServiceError {
        checkRefusal(error)
    } catch {
        // Anything but a ServiceError reaches Hummingbird as a 500.
        invariantFailed("not a ServiceError (a 500 for the client): \(type(of: error)): \(error)")
    }
    return 0
}

/// A refusal of bad input: 413 or 422 Validation, with a message that survives the JSON error body.
private func checkRefusal(_ error: ServiceError) {
    guard error.status.code == 413 || error.status.code == 422, error.kind == .validation else {
        invariantFailed("bad input answered \(error)")
    }
    guard !error.message.isEmpty else { invariantFailed("a refusal without a message") }
    let body = ErrorBody(error: error.message, errorType: error.kind.rawValue)
    do {
        let echoed = try JSONDecoder().decode(ErrorBody.self, from: try JSONEncoder().encode(body))
        guard echoed == body else { invariantFailed("the error body does not read back: \(error)") }
    } catch {
        invariantFailed("the error body does not encode: \(error)")
    }
}

/// What every validated list must satisfy: a query, 1 to max-client-batch-size passages, the
/// iterative flag as the threshold says and never with raw scores, and the token total within
/// max-batch-tokens.
private func checkShape(
    _ job: RequestValidation.ScoringJob, count: Int, _ configuration: ServiceConfiguration, raw: Bool
) {
    guard !job.query.allSatisfy(\.isWhitespace) else { invariantFailed("an empty query passed") }
    guard (1...configuration.maxClientBatchSize).contains(count) else {
        invariantFailed("\(count) passages passed with max-client-batch-size \(configuration.maxClientBatchSize)")
    }
    guard job.iterative == IterativeInference.applies(toPassageCount: count) else {
        invariantFailed("iterative \(job.iterative) for \(count) passages")
    }
    guard job.raw == raw, !(job.raw && job.iterative) else {
        invariantFailed("raw \(job.raw) (asked \(raw)), iterative \(job.iterative)")
    }
    guard job.totalTokens >= 1, job.totalTokens <= configuration.maxBatchTokens else {
        invariantFailed("\(job.totalTokens) tokens passed with max-batch-tokens \(configuration.maxBatchTokens)")
    }
}

/// Tokens after right truncation, as the validation is meant to count them.
private func truncatedTokens(_ texts: [String], _ engine: CountingEngine) -> Int {
    texts.reduce(0) { $0 + min(engine.tokenCount($1), engine.maxInputLength) }
}

private func checkTEI(_ plan: RerankRequestDecoding.TEIPlan, _ configuration: ServiceConfiguration, _ engine: CountingEngine) {
    let request = plan.request
    let job = plan.job
    guard job.query == request.query, job.texts == request.texts, job.passageVectors == nil else {
        invariantFailed("the job is not the request's query and texts")
    }
    checkShape(job, count: job.texts.count, configuration, raw: request.rawScores ?? false)
    if let direction = request.truncationDirection?.lowercased(), direction != "left", direction != "right" {
        invariantFailed("truncation_direction \"\(direction)\" passed")
    }
    let all = [request.query] + request.texts
    let longest = all.map(engine.tokenCount).max() ?? 0
    let truncating = request.truncate ?? false
    // Without `truncate`, or with it to the left (which the model cannot do), nothing may be cut.
    if (!truncating || request.truncationDirection?.lowercased() == "left") && longest > engine.maxInputLength {
        invariantFailed("a \(longest)-token text passed with maximum \(engine.maxInputLength) and no right truncation")
    }
    guard job.totalTokens == truncatedTokens(all, engine) else {
        invariantFailed("\(job.totalTokens) tokens counted, \(truncatedTokens(all, engine)) expected")
    }
    // The response the route writes must encode and carry the texts back.
    let returnText = request.returnText ?? false
    let ranks = request.texts.indices.map { TEIRank(index: $0, score: 0.5, text: returnText ? request.texts[$0] : nil) }
    roundTrip(ranks, texts: ranks.map(\.text))
}

private func checkCohere(
    _ plan: RerankRequestDecoding.CoherePlan, _ configuration: ServiceConfiguration, _ engine: CountingEngine,
    hasStore: Bool
) {
    switch plan {
    case let .documents(request, texts, job):
        guard request.documentIDs == nil, let documents = request.documents,
              texts == documents.map(\.text), job.texts == texts, job.query == request.query,
              job.passageVectors == nil else {
            invariantFailed("the job is not the request's query and documents")
        }
        checkTopN(request)
        checkShape(job, count: texts.count, configuration, raw: false)
        let expected = truncatedTokens([request.query] + texts, engine)
        guard job.totalTokens == expected else {
            invariantFailed("\(job.totalTokens) tokens counted, \(expected) expected")
        }
        let returnDocuments = request.returnDocuments ?? false
        let results = texts.indices.map {
            CohereRerankResponse.Result(
                index: $0, relevanceScore: 0.5, document: returnDocuments ? CohereDocument(text: texts[$0]) : nil)
        }
        roundTrip(results, texts: results.map(\.document?.text))
    case let .documentIDs(request, ids, job):
        guard hasStore else { invariantFailed("`document_ids` passed without a feature store") }
        guard request.documents == nil, request.documentIDs == ids, request.returnDocuments != true,
              job.texts.isEmpty, job.passageVectors == nil, job.query == request.query else {
            invariantFailed("the job is not the request's query and ids")
        }
        guard !ids.contains(where: \.isEmpty) else { invariantFailed("an empty id passed") }
        checkTopN(request)
        checkShape(job, count: ids.count, configuration, raw: false)
        let expected = truncatedTokens([request.query], engine)
        guard job.totalTokens == expected else {
            invariantFailed("\(job.totalTokens) query tokens counted, \(expected) expected")
        }
    }
}

private func checkTopN(_ request: CohereRerankRequest) {
    if let topN = request.topN, topN < 1 { invariantFailed("top_n \(topN) passed") }
}

/// A response element read back: a TEI rank's `text` or a Cohere result's `document`.
private struct Echo: Decodable {
    var text: String?
    var document: CohereDocument?
}

/// Encodes response elements as the route does (sorted keys) and reads back the texts they carry.
private func roundTrip(_ value: some Encodable, texts: [String?]) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    do {
        let echoed = try JSONDecoder().decode([Echo].self, from: try encoder.encode(value))
        guard echoed.map({ $0.text ?? $0.document?.text }) == texts else {
            invariantFailed("the response does not carry the texts back")
        }
    } catch {
        invariantFailed("the response does not encode or read back: \(error)")
    }
}
