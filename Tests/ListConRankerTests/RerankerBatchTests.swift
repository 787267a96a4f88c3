import Foundation
import Testing
@testable import ListConRanker

/// ``Reranker/scores(batch:)``: several lists in one encoder pass score as each does alone.
@Suite struct RerankerBatchTests {
    let ranker: Reranker
    let passages = (0..<30).map { "第\($0)条：多吃蔬菜，少吃盐，每天散步\($0 % 7)公里，睡眠\($0 % 5)小时。" }

    init() throws {
        ranker = try Reranker(modelDirectory: Fixtures.url("tiny-model"))
    }

    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return .infinity }
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    @Test func aBatchScoresEachListAsItScoresAlone() throws {
        let vectors = try ranker.pooledVectors(for: Array(passages[10..<14]))
        let lists = [
            ScoringList(query: "高血压患者应该注意什么？", texts: Array(passages[0..<5])),
            ScoringList(query: "睡眠多少小时合适", texts: Array(passages[2..<6]) + [passages[2]], raw: true),
            ScoringList(query: "少吃盐", texts: passages, iterative: true),
            ScoringList(query: "少吃盐", texts: Array(passages[0..<5]), iterative: true),   // ≤ 20: conventional
            ScoringList(query: "散步", passageVectors: vectors),
            // The same passages, half as stored vectors and half as texts.
            ScoringList(query: "散步", passages: [.vector(vectors[0]), .text(passages[11]), .vector(vectors[2]), .text(passages[13])]),
            ScoringList(query: "没有段落", texts: []),
        ]
        let alone: [[Float]] = try [
            ranker.scores(query: lists[0].query, passages: Array(passages[0..<5])),
            ranker.logits(query: lists[1].query, passages: Array(passages[2..<6]) + [passages[2]]),
            ranker.iterativeScores(query: "少吃盐", passages: passages),
            ranker.scores(query: "少吃盐", passages: Array(passages[0..<5])),
            ranker.scores(query: "散步", passageVectors: vectors),
            ranker.scores(query: "散步", passages: Array(passages[10..<14])),
            [],
        ]
        let textsBefore = ranker.encoderTextCount
        let batch = try ranker.scores(batch: lists)
        // Every distinct text once: 30 passages and 4 distinct queries (the list without passages
        // is not encoded).
        #expect(ranker.encoderTextCount - textsBefore == 34)
        #expect(batch.scores.count == lists.count)
        for (i, (scores, expected)) in zip(batch.scores, alone).enumerated() {
            #expect(Self.maxDifference(scores, expected) <= 1e-5, "list \(i)")
        }
        // Duplicated passages score exactly alike within a list.
        #expect(batch.scores[1][0] == batch.scores[1][4])
        // The encoded vectors are the texts' pooled vectors.
        let encoded = try #require(batch.encodedVectors[passages[11]])
        #expect(Self.maxDifference(encoded, try ranker.pooledVectors(for: [passages[11]])[0]) <= 1e-5)
        #expect(batch.encodedVectors["少吃盐"] != nil)
        #expect(batch.encodedVectors.count == 34)
    }

    @Test func aBadListRefusesTheWholeBatch() throws {
        let good = ScoringList(query: "问题", texts: ["答案"])
        #expect(throws: ModelError.invalidInput("the query is empty")) {
            try ranker.scores(batch: [good, ScoringList(query: " ", texts: ["答案"])])
        }
        #expect(throws: ModelError.self) {
            try ranker.scores(batch: [good, ScoringList(query: "问题", passageVectors: [[1, 2, 3]])])
        }
        #expect(try ranker.scores(batch: []).scores.isEmpty)
    }
}
