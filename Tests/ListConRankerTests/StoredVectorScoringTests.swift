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
