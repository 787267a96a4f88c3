import Foundation
import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

/// The whole evaluation pipeline on the committed fixture dataset with the tiny random model,
/// against the PyTorch reference pipeline + scikit-learn (tools/reference/make_eval_goldens.py).
@Suite struct EvaluationEndToEndTests {
    struct ModeGolden: Decodable {
        let map: Double, mrr_at_1: Double, mrr_at_5: Double, mrr_at_10: Double
        let scored: Int, skipped: Int
        let scores: [[Float]]
    }

    static let goldens = Result {
        try Fixtures.json([String: ModeGolden].self, "evaluation/fixture_dataset_model_goldens.json")
    }

    @Test(arguments: ["conventional", "iterative"])
    func metricsEqualThePyTorchPipeline(mode: String) throws {
        let golden = try #require(try Self.goldens.get()[mode])
        let dataset = try RerankingDataset(contentsOf: Fixtures.url("evaluation/fixture_dataset.jsonl"))
        let ranker = try Reranker(modelDirectory: Fixtures.url("tiny-model"))
        var perSample = [[Float]]()
        let evaluator = RerankingEvaluator(dataset: dataset, mode: mode, precision: "fp32")
        let results = try evaluator.run(scorer: { query, passages in
            let scores = mode == "iterative" ? try ranker.iterativeScores(query: query, passages: passages)
                                             : try ranker.scores(query: query, passages: passages)
            perSample.append(scores)
            return scores
        }, progress: .none)
        #expect(results.samplesScored == golden.scored && results.samplesSkipped == golden.skipped)
        for (i, (ours, theirs)) in zip(perSample, golden.scores).enumerated() {
            expectClose(ours, theirs, "sample \(i) scores")
        }
        let m = results.metrics
        #expect(abs(m.map - golden.map) < 1e-9, "MAP \(m.map) vs \(golden.map)")
        #expect(abs(m.mrrAt1 - golden.mrr_at_1) < 1e-9)
        #expect(abs(m.mrrAt5 - golden.mrr_at_5) < 1e-9)
        #expect(abs(m.mrrAt10 - golden.mrr_at_10) < 1e-9)
    }
}
