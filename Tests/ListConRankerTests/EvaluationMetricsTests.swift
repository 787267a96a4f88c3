import Foundation
import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

@Suite struct EvaluationMetricsTests {
    /// One list of `metric_goldens.json`, written by tools/reference/make_metric_goldens.py.
    struct GoldenCase: Decodable {
        let relevant: [Bool]
        let scores: [Double]
        let average_precision: Double
        let mrr_at_1: Double
        let mrr_at_5: Double
        let mrr_at_10: Double
    }

    static func goldens() throws -> [GoldenCase] {
        let data = try Data(contentsOf: Fixtures.url("evaluation/metric_goldens.json"))
        return try JSONDecoder().decode([GoldenCase].self, from: data)
    }

    @Test func averagePrecisionMatchesScikitLearnOnTiedLists() throws {
        let cases = try Self.goldens()
        #expect(cases.count == 300)
        // The goldens must really exercise ties, or they would not test the threshold grouping.
        #expect(cases.filter { Set($0.scores).count < $0.scores.count }.count > 150)
        for (index, golden) in cases.enumerated() {
            let ap = try #require(RankingMetrics.averagePrecision(relevant: golden.relevant, scores: golden.scores))
            #expect(abs(ap - golden.average_precision) <= 1e-9, "case \(index): \(ap) vs sklearn \(golden.average_precision)")
        }
    }

    @Test func reciprocalRankMatchesReferenceOnTiedLists() throws {
        for (index, golden) in try Self.goldens().enumerated() {
            for (cutoff, expected) in [(1, golden.mrr_at_1), (5, golden.mrr_at_5), (10, golden.mrr_at_10)] {
                let rr = RankingMetrics.reciprocalRank(relevant: golden.relevant, scores: golden.scores, cutoff: cutoff)
                #expect(abs(rr - expected) <= 1e-9, "case \(index) MRR@\(cutoff): \(rr) vs \(expected)")
            }
        }
    }

    @Test func tiedScoresFormOneThreshold() throws {
        // Ranked: {0.9: relevant}, {0.5: irrelevant, relevant, irrelevant}.
        // Thresholds: 0.9 → recall 1/2, precision 1; 0.5 → recall 1, precision 2/4.
        let ap = try #require(RankingMetrics.averagePrecision(
            relevant: [false, true, true, false], scores: [0.5, 0.5, 0.9, 0.5]))
        #expect(ap == 0.5 * 1 + 0.5 * 0.5)
        // A list where everything ties has the precision of the whole list.
        let flat = try #require(RankingMetrics.averagePrecision(relevant: [true, false, false], scores: [1, 1, 1]))
        #expect(abs(flat - 1.0 / 3.0) < 1e-15)
    }

    @Test func averagePrecisionIsNilWithoutPositives() {
        #expect(RankingMetrics.averagePrecision(relevant: [false, false], scores: [0.2, 0.1]) == nil)
        #expect(RankingMetrics.averagePrecision(relevant: [true, true], scores: [0.2, 0.1]) == 1)
    }

    @Test func reciprocalRankKeepsListOrderForTies() {
        // All tied: the stable sort keeps list order, so the first relevant item's position counts.
        #expect(RankingMetrics.reciprocalRank(relevant: [false, false, true], scores: [1, 1, 1], cutoff: 5) == 1.0 / 3.0)
        #expect(RankingMetrics.reciprocalRank(relevant: [true, false, false], scores: [1, 1, 1], cutoff: 1) == 1)
        // The relevant item ranks 3rd: inside the top 5, outside the top 1.
        #expect(RankingMetrics.reciprocalRank(relevant: [true, false, false], scores: [0.1, 0.9, 0.8], cutoff: 1) == 0)
        #expect(RankingMetrics.reciprocalRank(relevant: [true, false, false], scores: [0.1, 0.9, 0.8], cutoff: 5) == 1.0 / 3.0)
    }
}
