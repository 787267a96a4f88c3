import Foundation
import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

/// The scorer tools/reference/make_metric_goldens.py uses for its expected results: how many
/// characters (Unicode scalars) of the passage occur in the query. Integer-valued, so the
/// Float scores are exact and ties are frequent.
func overlapScores(query: String, passages: [String]) -> [Float] {
    let characters = Set(query.unicodeScalars)
    return passages.map { passage in Float(passage.unicodeScalars.filter(characters.contains).count) }
}

/// A scorer that fails once it has scored `limit` lists, as a crashed or killed run would stop.
struct InterruptedScoring: Error {}

@Suite final class EvaluationRunTests {
    let directory: URL
    let dataset: RerankingDataset

    init() throws {
        directory = try makeEvaluationScratchDirectory()
        dataset = try RerankingDataset(contentsOf: Fixtures.url("evaluation/fixture_dataset.jsonl"))
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func evaluator(_ dataset: RerankingDataset? = nil) -> RerankingEvaluator {
        RerankingEvaluator(dataset: dataset ?? self.dataset, mode: "conventional", precision: "fp32", modelDirectory: "/models/x")
    }

    /// Reads the expected metrics that scikit-learn computed for the overlap scorer.
    struct Expected: Decodable {
        let map: Double
        let mrr_at_1: Double
        let mrr_at_5: Double
        let mrr_at_10: Double
        let samples_scored: Int
        let samples_skipped: Int
    }

    @Test func metricsMatchScikitLearnOnTheFixtureDataset() throws {
        let expected = try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: Fixtures.url("evaluation/fixture_dataset_overlap_expected.json")))
        var calls = 0
        let results = try evaluator().run(scorer: { query, passages in
            calls += 1
            return overlapScores(query: query, passages: passages)
        }, progress: .none)
        #expect(calls == 55)
        #expect(results.samplesScored == expected.samples_scored)
        #expect(results.samplesSkipped == expected.samples_skipped)
        #expect(results.samplesResumed == 0)
        #expect(abs(results.metrics.map - expected.map) <= 1e-9)
        #expect(abs(results.metrics.mrrAt1 - expected.mrr_at_1) <= 1e-9)
        #expect(abs(results.metrics.mrrAt5 - expected.mrr_at_5) <= 1e-9)
        #expect(abs(results.metrics.mrrAt10 - expected.mrr_at_10) <= 1e-9)
        #expect(results.metrics.mainScore == results.metrics.map)
        #expect(results.taskName == "fixture_dataset")
        #expect(results.split == "test")
        #expect(results.dataFile == dataset.source?.path)
    }

    @Test func scorerSeesPositivesThenNegatives() throws {
        let sample = RerankingSample(query: "q", positives: ["p1", "p2"], negatives: ["n1", "n2", "n3"])
        var seen: [[String]] = []
        // Rank the last negative first: MRR@1 must be 0 and AP must reflect positions 2 and 3.
        let results = try evaluator(RerankingDataset(samples: [sample])).run(scorer: { _, passages in
            seen.append(passages)
            return [0.8, 0.7, 0.1, 0.2, 0.9]
        }, progress: .none)
        #expect(seen == [["p1", "p2", "n1", "n2", "n3"]])
        #expect(results.metrics.mrrAt1 == 0)
        #expect(results.metrics.mrrAt5 == 50)
        #expect(abs(results.metrics.map - 100 * (1.0 / 2.0 + 2.0 / 3.0) / 2) < 1e-12)
        #expect(results.taskName == "reranking")
    }

    @Test func scoresFileHoldsOneLinePerScoredSample() throws {
        let scoresURL = directory.appendingPathComponent("scores.jsonl")
        _ = try evaluator().run(scorer: overlapScores, progress: .none, scoresOut: scoresURL)
        let lines = try String(contentsOf: scoresURL, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 56 && lines.last == "")  // 55 lines, each ending in a newline
        let scorable = dataset.samples.filter(\.isScorable)
        for (line, sample) in zip(lines, scorable) {
            let entry = try JSONDecoder().decode(SampleScores.self, from: Data(line.utf8))
            #expect(entry.query == sample.query)
            #expect(entry.scores == overlapScores(query: sample.query, passages: sample.passages))
        }
        // Chinese stays readable in the file, and keys come in a fixed order.
        #expect(lines[0].hasPrefix(#"{"query":"怎样预防胃炎","scores":["#))
    }

    @Test func resumedRunEqualsUninterruptedRun() throws {
        // Scores with many distinct non-round values, so any change in a resumed score would show.
        let scorer: RerankingEvaluator.Scorer = { query, passages in
            overlapScores(query: query, passages: passages).enumerated().map { index, score in
                score + Float(index % 7) / 3 + Float(query.unicodeScalars.count) * 0.001
            }
        }
        let full = try evaluator().run(scorer: scorer, progress: .none)

        let scoresURL = directory.appendingPathComponent("resume.jsonl")
        var calls = 0
        #expect(throws: RerankingEvaluationError.self) {
            try evaluator().run(scorer: { query, passages in
                calls += 1
                if calls > 20 { throw InterruptedScoring() }
                return try scorer(query, passages)
            }, progress: .none, scoresOut: scoresURL)
        }
        let written = try Data(contentsOf: scoresURL)
        #expect(written.filter { $0 == 0x0A }.count == 20)

        var resumedCalls = 0
        let resumed = try evaluator().run(scorer: { query, passages in
            resumedCalls += 1
            return try scorer(query, passages)
        }, progress: .none, scoresOut: scoresURL, resume: true)
        #expect(resumedCalls == 35)
        #expect(resumed.samplesResumed == 20)
        #expect(resumed.samplesScored == full.samplesScored)
        #expect(resumed.metrics == full.metrics)  // exactly equal, not just close
        // The finished file is what an uninterrupted run writes, and the old lines were kept.
        let fresh = directory.appendingPathComponent("fresh.jsonl")
        _ = try evaluator().run(scorer: scorer, progress: .none, scoresOut: fresh)
        let resumedFile = try Data(contentsOf: scoresURL)
        #expect(resumedFile == (try Data(contentsOf: fresh)))
        #expect(resumedFile.prefix(written.count) == written)
    }

    @Test func truncatedLastLineIsRecomputed() throws {
        let scoresURL = directory.appendingPathComponent("killed.jsonl")
        let full = try evaluator().run(scorer: overlapScores, progress: .none, scoresOut: scoresURL)
        let complete = try Data(contentsOf: scoresURL)
        // Keep 10 finished lines and half of the 11th, as a kill during a write leaves it.
        let newlines = complete.indices.filter { complete[$0] == 0x0A }
        let cut = newlines[9] + 1 + (newlines[10] - newlines[9]) / 2
        try complete.prefix(cut).write(to: scoresURL)

        var calls = 0
        let resumed = try evaluator().run(scorer: { query, passages in
            calls += 1
            return overlapScores(query: query, passages: passages)
        }, progress: .none, scoresOut: scoresURL, resume: true)
        #expect(calls == 45)
        #expect(resumed.samplesResumed == 10)
        #expect(resumed.metrics == full.metrics)
        #expect(try Data(contentsOf: scoresURL) == complete)
    }

    @Test func resumingAFinishedFileScoresNothing() throws {
        let scoresURL = directory.appendingPathComponent("done.jsonl")
        let full = try evaluator().run(scorer: overlapScores, progress: .none, scoresOut: scoresURL)
        let again = try evaluator().run(scorer: { _, _ in
            Issue.record("nothing is left to score")
            return []
        }, progress: .none, scoresOut: scoresURL, resume: true)
        #expect(again.metrics == full.metrics)
        #expect(again.samplesResumed == 55)
    }

    @Test func resumeWithoutAFileStartsOne() throws {
        let scoresURL = directory.appendingPathComponent("new.jsonl")
        let results = try evaluator().run(scorer: overlapScores, progress: .none, scoresOut: scoresURL, resume: true)
        #expect(results.samplesResumed == 0)
        #expect(try Data(contentsOf: scoresURL).filter { $0 == 0x0A }.count == 55)
    }

    @Test func scoresFileOfAnotherDatasetIsRejected() throws {
        let scoresURL = directory.appendingPathComponent("other.jsonl")
        let other = RerankingDataset(samples: [
            RerankingSample(query: "别的问题", positives: ["a"], negatives: ["b"]),
        ])
        _ = try evaluator(other).run(scorer: overlapScores, progress: .none, scoresOut: scoresURL)
        let before = try Data(contentsOf: scoresURL)
        #expect {
            try evaluator().run(scorer: overlapScores, progress: .none, scoresOut: scoresURL, resume: true)
        } throws: { error in
            guard case let ScoresFileError.mismatch(file, line, reason)? = error as? ScoresFileError else { return false }
            return file == scoresURL.path && line == 1 && reason.contains("别的问题") && reason.contains("dataset line 1")
        }
        #expect(try Data(contentsOf: scoresURL) == before)  // nothing written is lost
    }

    @Test func scoreCountMismatchInScoresFileIsRejected() throws {
        let scoresURL = directory.appendingPathComponent("count.jsonl")
        let first = dataset.samples[0]
        try Data((#"{"query":"\#(first.query)","scores":[1,2,3]}"# + "\n").utf8).write(to: scoresURL)
        #expect {
            try evaluator().run(scorer: overlapScores, progress: .none, scoresOut: scoresURL, resume: true)
        } throws: { error in
            guard case let ScoresFileError.mismatch(_, line, reason)? = error as? ScoresFileError else { return false }
            return line == 1 && reason.contains("3 scores") && reason.contains("2 passages")
        }
    }

    @Test func damagedFinishedLineIsRejected() throws {
        let scoresURL = directory.appendingPathComponent("damaged.jsonl")
        try Data(#"{"query":"怎样预防胃炎","scores":[1,"x"]}"#.utf8 + [0x0A]).write(to: scoresURL)
        #expect {
            try evaluator().run(scorer: overlapScores, progress: .none, scoresOut: scoresURL, resume: true)
        } throws: { error in
            guard case let ScoresFileError.malformedLine(_, line, _)? = error as? ScoresFileError else { return false }
            return line == 1
        }
    }

    @Test func longerScoresFileThanDatasetIsRejected() throws {
        let scoresURL = directory.appendingPathComponent("long.jsonl")
        _ = try evaluator().run(scorer: overlapScores, progress: .none, scoresOut: scoresURL)
        let small = RerankingDataset(samples: Array(dataset.samples.prefix(3)), source: dataset.source)
        #expect(throws: ScoresFileError.tooManyLines(file: scoresURL.path, lines: 55, scorableSamples: 3)) {
            try evaluator(small).run(scorer: overlapScores, progress: .none, scoresOut: scoresURL, resume: true)
        }
    }

    @Test func existingScoresAreNotOverwrittenWithoutResume() throws {
        let scoresURL = directory.appendingPathComponent("keep.jsonl")
        _ = try evaluator().run(scorer: overlapScores, progress: .none, scoresOut: scoresURL)
        let before = try Data(contentsOf: scoresURL)
        #expect(throws: ScoresFileError.alreadyExists(file: scoresURL.path)) {
            try evaluator().run(scorer: overlapScores, progress: .none, scoresOut: scoresURL)
        }
        #expect(try Data(contentsOf: scoresURL) == before)
    }

    @Test func resumeNeedsAScoresFile() {
        #expect {
            try evaluator().run(scorer: overlapScores, progress: .none, resume: true)
        } throws: { error in
            guard case .resumeNeedsScoresFile? = error as? RerankingEvaluationError else { return false }
            return true
        }
    }

    @Test func badScorerOutputIsReported() {
        let path = dataset.source?.path ?? ""
        #expect {
            try evaluator().run(scorer: { _, passages in Array(repeating: 0, count: passages.count + 1) }, progress: .none)
        } throws: { error in
            guard case let .wrongScoreCount(file, line, expected, got)? = error as? RerankingEvaluationError else { return false }
            return file == path && line == 1 && expected == 2 && got == 3
        }
        #expect {
            try evaluator().run(scorer: { _, passages in
                var scores = [Float](repeating: 0.5, count: passages.count)
                scores[passages.count - 1] = .nan
                return scores
            }, progress: .none)
        } throws: { error in
            guard case let .nonFiniteScore(_, line, passage, _)? = error as? RerankingEvaluationError else { return false }
            return line == 1 && passage == 1
        }
        #expect {
            try evaluator().run(scorer: { _, _ in throw InterruptedScoring() }, progress: .none)
        } throws: { error in
            guard case let .scorerFailed(_, line, underlying)? = error as? RerankingEvaluationError else { return false }
            return line == 1 && underlying is InterruptedScoring
        }
    }

    @Test func datasetWithoutScorableSamplesIsAnError() {
        let unscorable = RerankingDataset(samples: [RerankingSample(query: "q", positives: [], negatives: ["n"])])
        #expect {
            try evaluator(unscorable).run(scorer: overlapScores, progress: .none)
        } throws: { error in
            guard case let .noScorableSamples(_, skipped)? = error as? RerankingEvaluationError else { return false }
            return skipped == 1
        }
    }

    @Test func floatScoresSurviveTheScoresFileBitForBit() throws {
        // Random floats of every magnitude the model can give (sigmoid outputs plus rounds).
        var generator = SystemRandomNumberGenerator()
        var values: [Float] = (0..<20_000).map { _ in Float(bitPattern: UInt32.random(in: 0..<0x7F80_0000, using: &generator)) }
        values += (0..<20_000).map { _ in Float.random(in: 0...25, using: &generator) }
        values += [0, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 0.1, 1.0 / 3]
        let url = directory.appendingPathComponent("floats.jsonl")
        let writer = try ScoresFileWriter(url: url, keepingLength: nil)
        try writer.append(SampleScores(query: "q", scores: values))
        let read = try ScoresFile.read(url)
        #expect(read.entries.first?.scores.map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test func resultsEncodeLikeMTEB() throws {
        let results = RerankingResults(
            taskName: "T2Reranking", split: "dev",
            metrics: RerankingMetrics(map: 69.17, mrrAt1: 67.42, mrrAt5: 79.72, mrrAt10: 80.09),
            samplesScored: 5908, samplesSkipped: 0, samplesResumed: 100, mode: "iterative", precision: "bf16",
            evaluationTime: 12.5, modelDirectory: "/m", dataFile: "/d/T2Reranking.dev.jsonl")
        let data = try results.jsonData()
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["task_name"] as? String == "T2Reranking")
        let scores = try #require(object["scores"] as? [String: Any])
        let dev = try #require((scores["dev"] as? [[String: Any]])?.first)
        #expect(dev["main_score"] as? Double == 69.17)
        #expect(dev["map"] as? Double == 69.17)
        #expect(dev["mrr_at_10"] as? Double == 80.09)
        #expect(dev["hf_subset"] as? String == "default")
        #expect(object["samples_scored"] as? Int == 5908)
        #expect(object["mode"] as? String == "iterative")
        #expect(object["model_directory"] as? String == "/m")
        #expect(try JSONDecoder().decode(RerankingResults.self, from: data) == results)
    }

    @Test func taskAndSplitComeFromTheFileName() {
        func parts(_ name: String) -> [String] {
            let inferred = RerankingEvaluator.taskAndSplit(forDataFile: URL(fileURLWithPath: "/data/\(name)"))
            return [inferred.task, inferred.split]
        }
        #expect(parts("T2Reranking.dev.jsonl") == ["T2Reranking", "dev"])
        #expect(parts("cmedqav1-reranking.jsonl") == ["CMedQAv1-reranking", "test"])
        #expect(parts("MMarcoReranking.jsonl") == ["MMarcoReranking", "dev"])
        #expect(parts("mine_train.jsonl") == ["mine", "train"])
        #expect(parts("mine.jsonl") == ["mine", "test"])
        let explicit = RerankingEvaluator(
            dataset: dataset, taskName: "T2Reranking", mode: "iterative", precision: "fp32")
        #expect(explicit.split == "dev")
        #expect(RerankingEvaluator(dataset: dataset, split: "validation", mode: "m", precision: "p").split == "validation")
    }
}
