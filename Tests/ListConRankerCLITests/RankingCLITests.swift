import Foundation
import Testing

/// `rerank` and `score` on the tiny model, against PyTorch's scores for the same lists.
@Suite struct RankingCLITests {
    struct Ranked: Decodable { let index: Int; let score: Float }
    struct RerankLine: Decodable { let results: [Ranked] }
    struct ScoreLine: Decodable { let scores: [Float] }

    @Test func rerankJSONMatchesPyTorchBestFirst() throws {
        let golden = try CLIFixtures.modelGoldens()
        let list = golden.lists[0]
        let result = try CLI.run(["rerank", "--model", CLIFixtures.tinyModel, "--json"] + list)
        try #require(result.status == 0, "\(result)")
        let lines = result.stdoutLines
        try #require(lines.count == 1, "\(result)")
        let ranked = try decode(RerankLine.self, lines[0]).results
        let expected = golden.scores_each_list_alone[0]
        #expect(ranked.map(\.index).sorted() == Array(expected.indices))
        #expect(ranked.allSatisfy { abs($0.score - expected[$0.index]) <= 1e-4 }, "\(ranked) vs \(expected)")
        #expect(zip(ranked, ranked.dropFirst()).allSatisfy { $0.score >= $1.score }, "not best first: \(ranked)")
    }

    @Test func rerankTableShowsRankIndexScoreAndPassage() throws {
        let golden = try CLIFixtures.modelGoldens()
        let list = golden.lists[0]
        let result = try CLI.run(["rerank", "--model", CLIFixtures.tinyModel, "--top-n", "3"] + list)
        try #require(result.status == 0, "\(result)")
        let lines = result.stdoutLines
        try #require(lines.count == 4, "header and three rows expected: \(result)")
        #expect(lines[0].hasPrefix("rank  index  score"))
        let expected = golden.scores_each_list_alone[0]
        let best = expected.indices.max { expected[$0] < expected[$1] }!
        let fields = lines[1].split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
        #expect(fields.count == 4 && fields[0] == "1" && fields[1] == "\(best)", "\(lines[1])")
        #expect(Float(fields[2]).map { abs($0 - expected[best]) <= 1e-4 } == true, "\(lines[1])")
        // Passages over 60 characters are cut to 59 and an ellipsis (this one is long).
        let passage = list[best + 1]
        let shown = passage.count > 60 ? passage.prefix(59) + "…" : passage
        #expect(lines[1].hasSuffix(shown), "the row shows its passage: \(lines[1])")
    }

    /// Every list of the goldens from one JSON-lines file: one output line per list, in order.
    @Test func rerankInputFileRanksEachList() throws {
        let golden = try CLIFixtures.modelGoldens()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let input = try directory.file("lists.jsonl", golden.lists.map(queryLine).joined(separator: "\n") + "\n")
        let result = try CLI.run(["rerank", "--model", CLIFixtures.tinyModel, "--json", "--input", input.path])
        try #require(result.status == 0, "\(result)")
        try #require(result.stdoutLines.count == golden.lists.count, "\(result)")
        for (line, expected) in zip(result.stdoutLines, golden.scores_each_list_alone) {
            let ranked = try decode(RerankLine.self, line).results
            #expect(ranked.count == expected.count && ranked.allSatisfy { abs($0.score - expected[$0.index]) <= 1e-4 },
                    "\(ranked) vs \(expected)")
        }
    }

    /// Over 20 passages `rerank` uses iterative inference (PyTorch's order), `--conventional` does not.
    @Test func rerankLongListIsIterativeUnlessConventional() throws {
        let golden = try CLIFixtures.modelGoldens()
        let list = golden.iterative_list
        let iterative = try CLI.run(["rerank", "--model", CLIFixtures.tinyModel, "--json"] + list)
        try #require(iterative.status == 0, "\(iterative)")
        let order = try decode(RerankLine.self, try #require(iterative.stdoutLines.first)).results.map(\.index)
        let expectedOrder = golden.iterative_scores.enumerated()
            .sorted { ($0.element, -$0.offset) > ($1.element, -$1.offset) }.map(\.offset)
        #expect(order == expectedOrder)

        let conventional = try CLI.run(["rerank", "--model", CLIFixtures.tinyModel, "--json", "--conventional"] + list)
        try #require(conventional.status == 0, "\(conventional)")
        let ranked = try decode(RerankLine.self, try #require(conventional.stdoutLines.first)).results
        #expect(close(ranked.sorted { $0.index < $1.index }.map(\.score), golden.iterative_conventional_scores))
    }

    @Test func scoreWritesProbabilitiesAndLogitsInPassageOrder() throws {
        let golden = try CLIFixtures.modelGoldens()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let input = try directory.file("lists.jsonl", golden.lists.map(queryLine).joined(separator: "\n") + "\n")

        let scores = try CLI.run(["score", "--model", CLIFixtures.tinyModel, "--input", input.path])
        try #require(scores.status == 0, "\(scores)")
        let lines = try scores.stdoutLines.map { try decode(ScoreLine.self, $0).scores }
        #expect(lines.count == golden.lists.count)
        for (ours, theirs) in zip(lines, golden.scores_each_list_alone) { #expect(close(ours, theirs), "\(ours) vs \(theirs)") }

        let logits = try CLI.run(["score", "--model", CLIFixtures.tinyModel, "--input", input.path, "--raw"])
        try #require(logits.status == 0, "\(logits)")
        for (line, theirs) in zip(logits.stdoutLines, golden.logits) {
            let ours = try decode(ScoreLine.self, line).scores
            #expect(close(ours, theirs), "\(ours) vs \(theirs)")
        }
    }

    /// `--max-length` reaches the model: PyTorch's scores with texts cut to 16 tokens.
    @Test func scoreHonoursMaxLength() throws {
        let golden = try CLIFixtures.modelGoldens()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let input = try directory.file("list.jsonl", try queryLine(golden.lists[0]) + "\n")
        let result = try CLI.run(["score", "--model", CLIFixtures.tinyModel, "--input", input.path, "--max-length", "16"])
        try #require(result.status == 0, "\(result)")
        let ours = try decode(ScoreLine.self, try #require(result.stdoutLines.first)).scores
        #expect(close(ours, golden.scores_max_length_16), "\(ours) vs \(golden.scores_max_length_16)")
        #expect(!close(ours, golden.scores_each_list_alone[0]), "the cut made no difference, so this test shows nothing")
    }
}
