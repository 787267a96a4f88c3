import Foundation
import Testing

/// `index`, then `rerank`/`score --store`: stored passages give the scores of their texts.
@Suite struct StoreCLITests {
    struct Summary: Decodable { let indexed: Int; let unchanged: Int; let duplicates: Int; let deleted: Int; let stored: Int }
    struct Ranked: Decodable { let index: Int; let id: String; let score: Float }
    struct RerankLine: Decodable { let results: [Ranked] }
    struct ScoreLine: Decodable { let scores: [Float] }

    func passagesFile(_ directory: TemporaryDirectory, _ passages: [(String, String)]) throws -> URL {
        let lines = try passages.map { id, text in
            String(decoding: try JSONSerialization.data(withJSONObject: ["id": id, "text": text]), as: UTF8.self)
        }
        return try directory.file("passages-\(UUID().uuidString).jsonl", lines.joined(separator: "\n") + "\n")
    }

    @Test func indexThenRerankAndScoreStoredPassagesAsTheirTexts() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let golden = try CLIFixtures.modelGoldens()
        let list = golden.lists[0]
        let passages = Array(list.dropFirst())
        let ids = passages.indices.map { "p\($0)" }
        let store = directory.url.appendingPathComponent("features.sqlite").path
        let input = try passagesFile(directory, Array(zip(ids, passages)))

        let first = try CLI.run(["index", "--model", CLIFixtures.tinyModel, "--store", store, "--input", input.path])
        try #require(first.status == 0, "\(first)")
        let summary = try decode(Summary.self, first.stdoutLines[0])
        #expect(summary.indexed == passages.count && summary.unchanged == 0 && summary.stored == passages.count)

        // Running again encodes nothing: every text is unchanged.
        let again = try CLI.run(["index", "--model", CLIFixtures.tinyModel, "--store", store, "--input", input.path])
        try #require(again.status == 0, "\(again)")
        let second = try decode(Summary.self, again.stdoutLines[0])
        #expect(second.indexed == 0 && second.unchanged == passages.count)

        let ranked = try CLI.run(["rerank", "--model", CLIFixtures.tinyModel, "--store", store, "--json", list[0], "--ids"] + ids)
        try #require(ranked.status == 0, "\(ranked)")
        let results = try decode(RerankLine.self, ranked.stdoutLines[0]).results
        let expected = golden.scores_each_list_alone[0]
        #expect(results.map(\.index).sorted() == Array(expected.indices))
        #expect(results.allSatisfy { abs($0.score - expected[$0.index]) <= 1e-4 && $0.id == ids[$0.index] }, "\(results)")
        #expect(zip(results, results.dropFirst()).allSatisfy { $0.score >= $1.score })

        let lists = try directory.file("lists.jsonl", String(decoding: try JSONSerialization.data(
            withJSONObject: ["query": list[0], "ids": ids]), as: UTF8.self) + "\n")
        let scored = try CLI.run(["score", "--model", CLIFixtures.tinyModel, "--store", store, "--input", lists.path])
        try #require(scored.status == 0, "\(scored)")
        #expect(close(try decode(ScoreLine.self, scored.stdoutLines[0]).scores, expected))
    }

    @Test func changedTextsAreReencodedDuplicatesCountedAndDeletesApplied() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = directory.url.appendingPathComponent("features.sqlite").path
        let first = try passagesFile(directory, [("a", "多吃蔬菜"), ("b", "今天天气很好"), ("c", "明天会下雨吗")])
        try #require(try CLI.run(["index", "--model", CLIFixtures.tinyModel, "--store", store, "--input", first.path]).status == 0)
        let second = try passagesFile(directory, [("a", "多吃蔬菜"), ("b", "少吃盐"), ("b", "少吃盐，多运动")])
        let deletions = try directory.file("delete.txt", "c\nnot-there\n")
        let result = try CLI.run(["index", "--model", CLIFixtures.tinyModel, "--store", store, "--input", second.path,
                                  "--delete", deletions.path])
        try #require(result.status == 0, "\(result)")
        let summary = try decode(Summary.self, result.stdoutLines[0])
        #expect(summary.indexed == 1 && summary.unchanged == 1 && summary.duplicates == 1)
        #expect(summary.deleted == 1 && summary.stored == 2)

        let missing = try CLI.run(["rerank", "--model", CLIFixtures.tinyModel, "--store", store, "高血压", "--ids", "a", "c", "zz"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("c") && missing.stderr.contains("zz"), "the error names the unknown ids: \(missing)")
    }

    @Test func badIndexInputIsAClearErrorAndWritesNothing() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = directory.url.appendingPathComponent("features.sqlite").path
        let input = try directory.file("bad.jsonl", "{\"id\": \"a\", \"text\": \"多吃蔬菜\"}\n{\"id\": \"b\", \"text\": \"  \"}\n")
        let result = try CLI.run(["index", "--model", CLIFixtures.tinyModel, "--store", store, "--input", input.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("bad.jsonl:2: the text of \"b\" is empty"), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: store), "nothing is written before the input is checked")

        let noIDs = try CLI.run(["rerank", "--model", CLIFixtures.tinyModel, "--store", store, "高血压"])
        #expect(noIDs.status == 64 && noIDs.stderr.contains("--ids"), "\(noIDs)")
        let idsWithoutStore = try CLI.run(["rerank", "--model", CLIFixtures.tinyModel, "高血压", "--ids", "a"])
        #expect(idsWithoutStore.status == 64 && idsWithoutStore.stderr.contains("give --store too"), "\(idsWithoutStore)")
    }
}
