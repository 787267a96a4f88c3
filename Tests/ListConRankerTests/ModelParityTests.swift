import Foundation
import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

/// Goldens written by tools/reference/make_model_fixtures.py with the PyTorch reference.
struct ModelGoldens: Decodable {
    let lists: [[String]]
    let input_ids: [[Int32]]
    let pooled: [[Float]]
    let features: [[Float]]
    let scores: [[Float]]
    let logits: [[Float]]
    let scores_each_list_alone: [[Float]]
    let scores_max_length_16: [Float]
    let iterative_list: [String]
    let iterative_scores: [Float]
    let iterative_conventional_scores: [Float]
    let iterative_reference_encoder_texts: Int

    static let all = Result { try Fixtures.json([String: ModelGoldens].self, "model-goldens.json") }
}

func expectClose(_ actual: [Float], _ expected: [Float], tolerance: Float = 1e-4, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)",
            sourceLocation: sourceLocation)
    let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
    #expect(worst <= tolerance, "\(what): max difference \(worst) > \(tolerance)", sourceLocation: sourceLocation)
}

@Suite struct ModelParityTests {
    static let models = ["tiny-model", "tiny-model-bin"]

    func reranker(_ name: String, _ options: RerankerOptions = RerankerOptions()) throws -> Reranker {
        try Reranker(modelDirectory: Fixtures.url(name), options: options)
    }

    @Test(arguments: models) func goldensAreThere(_ name: String) throws {
        #expect(try ModelGoldens.all.get()[name] != nil, "model-goldens.json lacks \(name)")
    }

    @Test(arguments: models) func tokenIDsMatchTransformers(_ name: String) throws {
        let golden = try #require(try ModelGoldens.all.get()[name])
        let ranker = try reranker(name)
        let texts = golden.lists.flatMap { $0 }
        for (text, ids) in zip(texts, golden.input_ids) {
            #expect(ranker.tokenizer.tokenIDs(text, maxLength: 512) == ids, "ids of \(text.prefix(20))…")
        }
    }

    @Test(arguments: models) func pooledEncoderOutputAndFeaturesMatchPyTorch(_ name: String) throws {
        let golden = try #require(try ModelGoldens.all.get()[name])
        let model = try reranker(name).model
        let pooled = try model.pooled(golden.input_ids)
        expectClose(pooled.scalars, golden.pooled.flatMap { $0 }, "pooled")
        expectClose(try model.project(pooled: pooled).scalars, golden.features.flatMap { $0 }, "features")
    }

    @Test(arguments: models) func batchOfListsOfDifferentLengthsMatchesPyTorch(_ name: String) throws {
        let golden = try #require(try ModelGoldens.all.get()[name])
        let ranker = try reranker(name)
        let scores = try ranker.scores(for: golden.lists)
        for (i, list) in scores.enumerated() { expectClose(list, golden.scores[i], "list \(i)") }
        // A list's scores do not depend on the other lists in the batch.
        for (i, list) in golden.lists.enumerated() {
            expectClose(try ranker.scores(query: list[0], passages: Array(list.dropFirst())),
                        golden.scores_each_list_alone[i], "list \(i) alone")
            expectClose(try ranker.logits(query: list[0], passages: Array(list.dropFirst())),
                        golden.logits[i], "logits of list \(i)")
        }
    }

    @Test(arguments: models) func truncationToMaxLengthMatchesPyTorch(_ name: String) throws {
        let golden = try #require(try ModelGoldens.all.get()[name])
        let ranker = try reranker(name, RerankerOptions(maxLength: 16))
        let list = golden.lists[0]
        expectClose(try ranker.scores(query: list[0], passages: Array(list.dropFirst())), golden.scores_max_length_16,
                    "max_length 16")
    }

    @Test(arguments: models) func iterativeInferenceMatchesPyTorchAndEncodesEachTextOnce(_ name: String) throws {
        let golden = try #require(try ModelGoldens.all.get()[name])
        let ranker = try reranker(name)
        let list = golden.iterative_list
        let query = list[0], passages = Array(list.dropFirst())
        let before = ranker.encoderTextCount
        let scores = try ranker.iterativeScores(query: query, passages: passages)
        expectClose(scores, golden.iterative_scores, "iterative scores")
        // Each distinct text once: the query and the distinct passages.
        #expect(ranker.encoderTextCount - before == Set(list).count)
        expectClose(try ranker.scores(query: query, passages: passages), golden.iterative_conventional_scores,
                    "conventional scores of the long list")

        // The original algorithm, straightforwardly: re-encode the survivors every round.
        let naiveBefore = ranker.encoderTextCount
        let naive = try OriginalIterativeInference.scores(query: query, passages: passages, ranker: ranker)
        let naiveWork = ranker.encoderTextCount - naiveBefore
        // Every passage leaves in the same round, with the same score up to float rounding. Not bit
        // for bit: oneDNN's AVX2 matmul computes a row in the last, partial row block differently
        // from the same row in a full block (a probe of a [16, 32] product found a row's result
        // change for 32 of the row counts 1…64), so re-encoding a text in a list of another length
        // can move its score by an ulp. On AVX-512 CPUs the two agree bit for bit.
        #expect(naive.map { $0.rounded(.down) } == scores.map { $0.rounded(.down) }, "rounds of leaving differ")
        expectClose(naive, scores, tolerance: 1e-5, "position-keyed, encode-once scores against the original algorithm's")
        #expect(naiveWork > 2 * Set(list).count, "the original re-encodes: \(naiveWork) texts")
        print("iterative inference over 1 + \(passages.count) passages: encoder texts ours \(Set(list).count), " +
              "original algorithm \(naiveWork) (PyTorch reference: \(golden.iterative_reference_encoder_texts))")
    }

    @Test func rerankOrdersBestFirstAndHonoursTopN() throws {
        let golden = try #require(try ModelGoldens.all.get()["tiny-model"])
        let ranker = try reranker("tiny-model")
        let list = golden.lists[3]
        let ranked = try ranker.rerank(query: list[0], passages: Array(list.dropFirst()), topN: 5)
        #expect(ranked.count == 5)
        let expectedOrder = golden.scores[3].enumerated().sorted { $0.element > $1.element }.prefix(5).map(\.offset)
        #expect(ranked.map(\.index) == expectedOrder)
        let long = golden.iterative_list
        let iterative = try ranker.rerank(query: long[0], passages: Array(long.dropFirst()))
        let expected = golden.iterative_scores.enumerated().sorted { ($0.element, -$0.offset) > ($1.element, -$1.offset) }
        #expect(iterative.map(\.index) == expected.map(\.offset))
        let conventional = try ranker.rerank(query: long[0], passages: Array(long.dropFirst()), iterative: false)
        expectClose(conventional.sorted { $0.index < $1.index }.map(\.score), golden.iterative_conventional_scores,
                    "rerank without iterative inference")
    }
}

/// The published iterative_inference, written plainly: every round re-scores (and so
/// re-encodes) the surviving passages, and scores are kept by passage text.
enum OriginalIterativeInference {
    static func scores(query: String, passages all: [String], ranker: Reranker) throws -> [Float] {
        var passages = all
        var rounds: Float = 0
        var byText = [String: [Float]]()
        while passages.count > 20 {
            let scores = try ranker.scores(for: [[query] + passages])[0]
            let order = scores.indices.sorted { (scores[$0], $0) < (scores[$1], $1) }
            let k = max(Int((Double(passages.count) * 0.2).rounded(.up)), 10)
            var removed = 0
            while removed < k || (removed < order.count && scores[order[removed - 1]] == scores[order[removed]]) {
                byText[passages[order[removed]], default: []].append(scores[order[removed]] + rounds)
                removed += 1
            }
            passages = order[removed...].map { passages[$0] }
            rounds += 1
        }
        if !passages.isEmpty {
            let scores = try ranker.scores(for: [[query] + passages])[0]
            for (p, s) in zip(passages, scores) { byText[p, default: []].append(s + rounds) }
        }
        return all.map { byText[$0]![0] }
    }
}
