import Foundation
import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

/// What a user gets for odd or bad input: a clear error, or a correct result.
@Suite struct RerankerInputTests {
    let ranker: Reranker

    init() throws {
        ranker = try Reranker(modelDirectory: Fixtures.url("tiny-model"))
    }

    @Test func emptyQueryIsAClearError() {
        for query in ["", "   \n\t"] {
            #expect(throws: ModelError.invalidInput("the query is empty")) {
                try ranker.scores(query: query, passages: ["a"])
            }
            #expect(throws: ModelError.self) { try ranker.rerank(query: query, passages: ["a"]) }
            #expect(throws: ModelError.self) { try ranker.iterativeScores(query: query, passages: ["a"]) }
        }
    }

    @Test func emptyPassageListGivesEmptyResults() throws {
        #expect(try ranker.rerank(query: "问题", passages: []).isEmpty)
        #expect(try ranker.scores(query: "问题", passages: []).isEmpty)
        #expect(try ranker.iterativeScores(query: "问题", passages: []).isEmpty)
        let batch = try ranker.scores(for: [["问题"], ["问题", "答案"]])
        #expect(batch[0].isEmpty && batch[1].count == 1)
        #expect(throws: ModelError.self) { try ranker.scores(for: [[]]) }
    }

    @Test func emptyPassageStringsAreScoredAsTheOriginalDoes() throws {
        // An empty string tokenizes to [CLS] [SEP], which the model scores like any text.
        let scores = try ranker.scores(query: "问题", passages: ["", "答案", ""])
        #expect(scores.count == 3 && scores.allSatisfy(\.isFinite))
        #expect(scores[0] == scores[2])
    }

    @Test func negativeTopNIsAnError() {
        #expect(throws: ModelError.self) { try ranker.rerank(query: "问题", passages: ["a"], topN: -1) }
    }

    @Test func missingDirectoryAndIncompleteDirectoryNameWhatIsMissing() throws {
        let missing = URL(fileURLWithPath: "/nonexistent/model")
        #expect(throws: ModelError.missingDirectory(missing.path)) { try Reranker(modelDirectory: missing) }

        let partial = FileManager.default.temporaryDirectory.appendingPathComponent("lcr-partial-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: partial) }
        for file in ["config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: Fixtures.url("tiny-model/\(file)"), to: partial.appendingPathComponent(file))
        }
        do {
            _ = try Reranker(modelDirectory: partial)
            Issue.record("loading a directory without the list head should fail")
        } catch let error as ModelError {
            #expect(error.description.contains("linear_in_embedding.pt"))
            #expect(error.description.contains("list_transformer.pt"))
        }
        // An encoder-only directory still gives embeddings.
        let embedder = try TextEmbedder(modelDirectory: partial)
        #expect(try embedder.embeddings(for: ["你好"])[0].count == 16)
    }

    @Test func aListOfFiveThousandPassagesIsEncodedInBoundedBatches() throws {
        let ranker = try Reranker(modelDirectory: Fixtures.url("tiny-model"),
                                  options: RerankerOptions(encoderBatchTokens: 4096))
        let passages = (0..<5000).map { "第\($0)段：高血压患者应该注意饮食和休息，编号\($0 * 7919 % 10007)。" }
        let conventional = try ranker.scores(query: "高血压", passages: passages)
        #expect(conventional.count == 5000 && conventional.allSatisfy { $0 > 0 && $0 < 1 })
        let stats = ranker.encoderStatistics
        #expect(stats.texts == 5001)
        #expect(stats.largestBatchTokens <= 4096 && stats.batches > 10)
        let ranked = try ranker.rerank(query: "高血压", passages: passages)
        #expect(ranked.count == 5000)
        #expect(Set(ranked.map(\.index)).count == 5000)
        #expect(ranker.encoderStatistics.texts == 2 * 5001, "iterative inference encodes each text once")
    }

    @Test func maxLengthOutsideThePositionsIsAnError() {
        #expect(throws: ModelError.self) {
            try Reranker(modelDirectory: Fixtures.url("tiny-model"), options: RerankerOptions(maxLength: 513))
        }
        #expect(throws: ModelError.self) {
            try Reranker(modelDirectory: Fixtures.url("tiny-model"), options: RerankerOptions(maxLength: 1))
        }
    }
}
