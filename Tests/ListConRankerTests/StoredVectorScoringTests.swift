import Foundation
import Testing
@testable import ListConRanker

/// Scoring passages from stored pooled vectors (a feature store's) equals scoring their texts.
@Suite struct StoredVectorScoringTests {
    let ranker: Reranker
    let golden: ModelGoldens

    init() throws {
        ranker = try Reranker(modelDirectory: Fixtures.url("tiny-model"))
        golden = try #require(try ModelGoldens.all.get()["tiny-model"])
    }

    @Test func conventionalScoresFromStoredVectorsEqualScoresFromTexts() throws {
        for list in golden.lists {
            let query = list[0], passages = Array(list.dropFirst())
            let vectors = try ranker.pooledVectors(for: passages)
            let before = ranker.encoderTextCount
            let stored = try ranker.scores(query: query, passageVectors: vectors)
            #expect(ranker.encoderTextCount - before == 1, "only the query is encoded")
            expectClose(stored, try ranker.scores(query: query, passages: passages), tolerance: 1e-6, "stored vs texts")
        }
    }

    @Test func iterativeInferenceFromStoredVectorsRanksAsFromTexts() throws {
        let list = golden.iterative_list
        let query = list[0], passages = Array(list.dropFirst())
        let vectors = try ranker.pooledVectors(for: passages)
        let stored = try ranker.iterativeScores(query: query, passageVectors: vectors)
        let texts = try ranker.iterativeScores(query: query, passages: passages)
        #expect(stored.map { $0.rounded(.down) } == texts.map { $0.rounded(.down) }, "rounds of leaving differ")
        expectClose(stored, texts, tolerance: 1e-5, "iterative, stored vs texts")
        let ranked = try ranker.rerank(query: query, passageVectors: vectors)
        #expect(ranked.map(\.index) == (try ranker.rerank(query: query, passages: passages)).map(\.index))
    }

    /// Issue 16's fidelity bar: the same ranking from stored vectors as from texts on lists of
    /// 1 + 100 and 1 + 1000 (iterative inference: 5 and 50 rounds of leaving).
    @Test(arguments: [100, 1000])
    func longListsRankAsFromTexts(passageCount: Int) throws {
        let pool = golden.lists.flatMap { $0 }
        // Distinct passages: golden texts with a running number, so no two share a vector.
        let passages = (0..<passageCount).map { "\(pool[$0 % pool.count]) \($0)" }
        let query = golden.lists[0][0]
        let vectors = try ranker.pooledVectors(for: passages)
        let stored = try ranker.iterativeScores(query: query, passageVectors: vectors)
        let texts = try ranker.iterativeScores(query: query, passages: passages)
        #expect(stored.map { $0.rounded(.down) } == texts.map { $0.rounded(.down) }, "rounds of leaving differ")
        expectClose(stored, texts, tolerance: 1e-5, "iterative 1 + \(passageCount), stored vs texts")
        let ranked = try ranker.rerank(query: query, passageVectors: vectors).map(\.index)
        let rankedFromTexts = try ranker.rerank(query: query, passages: passages).map(\.index)
        #expect(Set(ranked).count == passageCount)
        // The passages' vectors come from other encoder batches than in the text path, so they
        // differ in the last bits; where two of 1,000 scores of the tiny model are that close,
        // the two orders may swap them. Any position where the orders differ must hold two
        // passages whose scores (from texts) are within the scores' own tolerance.
        let swapped = zip(ranked, rankedFromTexts).filter { $0 != $1 }
        for (fromStore, fromText) in swapped {
            #expect(abs(texts[fromStore] - texts[fromText]) <= 1e-5,
                    "passages \(fromStore) and \(fromText) are ranked differently, scores \(texts[fromStore]) and \(texts[fromText])")
        }
        #expect(swapped.count <= passageCount / 100, "\(swapped.count) positions differ")
    }

    @Test func badVectorsAreClearErrors() throws {
        let good = try ranker.pooledVectors(for: ["多吃蔬菜"])[0]
        #expect(try ranker.scores(query: "高血压", passageVectors: []) == [])
        #expect { try ranker.scores(query: "高血压", passageVectors: [Array(good.dropLast())]) } throws: { error in
            "\(error)".contains("passage vector 0 has \(good.count - 1) values; this encoder's have \(good.count)")
        }
        var nan = good
        nan[3] = .nan
        #expect { try ranker.scores(query: "高血压", passageVectors: [good, nan]) } throws: { error in
            "\(error)".contains("passage vector 1 holds a value that is not finite")
        }
        #expect(throws: ModelError.invalidInput("the query is empty")) {
            try ranker.scores(query: " ", passageVectors: [good])
        }
    }

    @Test func theEncoderIdentityNamesEncoderTokenizerAndLength() throws {
        let identity = try ranker.encoderIdentity()
        #expect(identity.count == 64)
        #expect(try Reranker(modelDirectory: Fixtures.url("tiny-model")).encoderIdentity() == identity)
        #expect(try Reranker(modelDirectory: Fixtures.url("tiny-model"), options: RerankerOptions(maxLength: 16))
            .encoderIdentity() != identity)
        #expect(try Reranker(modelDirectory: Fixtures.url("tiny-model-bin")).encoderIdentity() != identity)
    }
}
