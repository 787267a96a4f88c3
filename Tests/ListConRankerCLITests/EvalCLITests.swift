import Foundation
import Testing

/// `eval` on the fixture dataset with the tiny model, against the PyTorch + scikit-learn metrics.
@Suite struct EvalCLITests {
    /// The results JSON `eval` prints (MTEB's shape: one split, one subset).
    struct Results: Decodable {
        struct Split: Decodable { let map: Double, mrr_at_1: Double, mrr_at_5: Double, mrr_at_10: Double }
        let task_name: String
        let scores: [String: [Split]]
        let samples_scored: Int
        let samples_skipped: Int
        let samples_resumed: Int
        let mode: String
        let precision: String

        var metrics: Split? { scores.values.first?.first }
    }

    /// The `encoder: N texts in B batches, largest T tokens (--encoder-batch-tokens E, …)` line of stderr.
    struct EncoderWork: Equatable {
        let texts: Int, batches: Int, largestBatchTokens: Int, limit: Int

        init?(_ stderr: String) {
            guard let line = stderr.split(separator: "\n").first(where: { $0.hasPrefix("encoder: ") }) else { return nil }
            let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            guard numbers.count >= 4 else { return nil }
            (texts, batches, largestBatchTokens, limit) = (numbers[0], numbers[1], numbers[2], numbers[3])
        }
    }

    @Test(arguments: ["conventional", "iterative"])
    func metricsEqualPyTorchAndOutputFileEqualsStdout(mode: String) throws {
        let golden = try #require(try CLIFixtures.evaluationGoldens()[mode])
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.url.appendingPathComponent("results.json")
        let result = try CLI.run(["eval", "--model", CLIFixtures.tinyModel, "--data", CLIFixtures.evaluationData,
                                  "--mode", mode, "--output", output.path])
        try #require(result.status == 0, "\(result)")
        let results = try JSONDecoder().decode(Results.self, from: Data(result.stdout.utf8))
        let metrics = try #require(results.metrics)
        #expect(abs(metrics.map - golden.map) < 1e-6, "MAP \(metrics.map) vs \(golden.map)")
        #expect(abs(metrics.mrr_at_1 - golden.mrr_at_1) < 1e-6)
        #expect(abs(metrics.mrr_at_5 - golden.mrr_at_5) < 1e-6)
        #expect(abs(metrics.mrr_at_10 - golden.mrr_at_10) < 1e-6)
        #expect(results.samples_scored == golden.scored && results.samples_skipped == golden.skipped)
        #expect(results.mode == mode && results.precision == "fp32")
        #expect(try String(contentsOf: output, encoding: .utf8) + "\n" == result.stdout)
        #expect(result.stderr.contains(String(format: "MAP %.2f", golden.map)), "\(result)")
    }

    /// `eval` once built its own options and dropped `--encoder-batch-tokens`: the encoder's
    /// batches must follow it (more, smaller batches) while the metrics stay the same.
    @Test func encoderBatchTokensReachesTheModel() throws {
        let arguments = ["eval", "--model", CLIFixtures.tinyModel, "--data", CLIFixtures.evaluationData,
                         "--mode", "conventional", "--limit", "20"]
        let standard = try CLI.run(arguments)
        let small = try CLI.run(arguments + ["--encoder-batch-tokens", "16"])
        try #require(standard.status == 0, "\(standard)")
        try #require(small.status == 0, "\(small)")
        let standardWork = try #require(EncoderWork(standard.stderr), "\(standard)")
        let smallWork = try #require(EncoderWork(small.stderr), "\(small)")
        #expect(standardWork.limit == 6144 && smallWork.limit == 16)
        #expect(smallWork.texts == standardWork.texts)
        #expect(smallWork.batches > standardWork.batches, "\(smallWork) vs \(standardWork)")
        #expect(smallWork.largestBatchTokens < standardWork.largestBatchTokens, "\(smallWork) vs \(standardWork)")
        let standardMAP = try JSONDecoder().decode(Results.self, from: Data(standard.stdout.utf8)).metrics?.map
        let smallMAP = try JSONDecoder().decode(Results.self, from: Data(small.stdout.utf8)).metrics?.map
        #expect(standardMAP != nil && standardMAP == smallMAP)
    }

    /// With `--store`, the dataset's passages are encoded once into the store: the metrics equal
    /// PyTorch's, and a second run (the other mode) encodes only the queries.
    @Test func storeEncodesPassagesOnceAcrossRuns() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = directory.url.appendingPathComponent("eval.sqlite").path
        var work = [EncoderWork]()
        for mode in ["conventional", "iterative"] {
            let golden = try #require(try CLIFixtures.evaluationGoldens()[mode])
            let result = try CLI.run(["eval", "--model", CLIFixtures.tinyModel, "--data", CLIFixtures.evaluationData,
                                      "--mode", mode, "--store", store])
            try #require(result.status == 0, "\(result)")
            let results = try JSONDecoder().decode(Results.self, from: Data(result.stdout.utf8))
            let metrics = try #require(results.metrics)
            #expect(abs(metrics.map - golden.map) < 1e-4, "\(mode): MAP \(metrics.map) vs \(golden.map)")
            work.append(try #require(EncoderWork(result.stderr), "\(result)"))
        }
        let golden = try #require(try CLIFixtures.evaluationGoldens()["conventional"])
        #expect(work[1].texts == golden.scored, "the second run encodes one query per sample: \(work)")
        #expect(work[0].texts > work[1].texts, "\(work)")
    }

    /// `--scores-out` then `--resume` scores nothing twice and gives the metrics of one whole run.
    @Test func resumeContinuesFromScoresOut() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let scores = directory.url.appendingPathComponent("scores.jsonl").path
        let base = ["eval", "--model", CLIFixtures.tinyModel, "--data", CLIFixtures.evaluationData, "--mode", "conventional"]
        let whole = try CLI.run(base + ["--limit", "20"])
        let first = try CLI.run(base + ["--limit", "10", "--scores-out", scores])
        let resumed = try CLI.run(base + ["--limit", "20", "--scores-out", scores, "--resume"])
        for run in [whole, first, resumed] { try #require(run.status == 0, "\(run)") }
        let expected = try JSONDecoder().decode(Results.self, from: Data(whole.stdout.utf8))
        let results = try JSONDecoder().decode(Results.self, from: Data(resumed.stdout.utf8))
        #expect(results.samples_scored == expected.samples_scored)
        #expect(results.metrics?.map == expected.metrics?.map && expected.metrics != nil)
        #expect((1...10).contains(results.samples_resumed), "\(resumed)")
        let work = try #require(EncoderWork(resumed.stderr), "\(resumed)")
        let wholeWork = try #require(EncoderWork(whole.stderr), "\(whole)")
        #expect(work.texts < wholeWork.texts, "resumed samples were encoded again: \(work) vs \(wholeWork)")
    }
}
