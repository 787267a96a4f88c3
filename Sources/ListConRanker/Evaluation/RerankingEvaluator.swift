import Foundation

/// A problem during an evaluation run (the dataset and scores file have their own errors:
/// ``RerankingDatasetError``, ``ScoresFileError``).
public enum RerankingEvaluationError: Error, CustomStringConvertible {
    /// `resume` was asked for without a scores file to resume from.
    case resumeNeedsScoresFile
    /// No sample of the dataset has both a positive and a negative.
    case noScorableSamples(dataFile: String, skipped: Int)
    /// The scorer returned a different number of scores than passages it was given.
    case wrongScoreCount(dataFile: String, line: Int, expected: Int, got: Int)
    /// The scorer returned NaN or an infinity.
    case nonFiniteScore(dataFile: String, line: Int, passage: Int, value: Float)
    /// The scorer threw while scoring the sample on `line`.
    case scorerFailed(dataFile: String, line: Int, underlying: any Error)

    /// A message for people: what is wrong, and where.
    public var description: String {
        switch self {
        case .resumeNeedsScoresFile:
            return "resuming needs a scores file (--scores-out) to resume from"
        case let .noScorableSamples(file, skipped):
            return "\(file): none of the \(skipped) samples has both a positive and a negative passage; nothing to evaluate"
        case let .wrongScoreCount(file, line, expected, got):
            return "\(file):\(line): the scorer returned \(got) scores for \(expected) passages"
        case let .nonFiniteScore(file, line, passage, value):
            return "\(file):\(line): the scorer returned \(value) for passage \(passage) (scores must be finite)"
        case let .scorerFailed(file, line, underlying):
            return "\(file):\(line): scoring failed: \(underlying)"
        }
    }
}

/// Runs C-MTEB reranking evaluation (../shared/DESIGN.md §1.3) around any scorer.
///
/// Each scorable sample (at least one positive and one negative) is scored as one list:
/// the query, then its positives, then its negatives, in the data's order. Per sample it
/// computes average precision and MRR@1/5/10 (``RankingMetrics``); the results are their
/// means ×100. Samples are scored in file order, one at a time.
///
/// With a scores file, every scored sample's scores are appended as one JSON line as soon
/// as they exist; with `resume`, the samples already in that file are taken from it instead
/// of being scored again, and the metrics equal those of an uninterrupted run.
public struct RerankingEvaluator {
    /// Scores one list: `passages` are the sample's positives then negatives; the result
    /// holds one finite score per passage, higher meaning more relevant.
    public typealias Scorer = (_ query: String, _ passages: [String]) throws -> [Float]

    /// The data to evaluate.
    public var dataset: RerankingDataset
    /// The task's name in the results (e.g. `T2Reranking`).
    public var taskName: String
    /// The split's name in the results (e.g. `dev`).
    public var split: String
    /// How the scorer ranks lists, recorded in the results (e.g. `iterative`).
    public var mode: String
    /// The model's numeric precision, recorded in the results (e.g. `fp32`).
    public var precision: String
    /// The model directory, recorded in the results.
    public var modelDirectory: String?

    /// An evaluator for `dataset`.
    ///
    /// - Parameters:
    ///   - taskName: defaults to the name ``taskAndSplit(forDataFile:)`` reads from the
    ///     dataset's file name (or `reranking` for a dataset built in code).
    ///   - split: defaults likewise: a split named in the file name, else the known task's
    ///     evaluation split, else `test`.
    public init(
        dataset: RerankingDataset, taskName: String? = nil, split: String? = nil,
        mode: String, precision: String, modelDirectory: String? = nil
    ) {
        let named = dataset.source.map { Self.nameParts(ofDataFile: $0) }
        self.dataset = dataset
        self.taskName = taskName ?? named?.task ?? "reranking"
        // An explicit split wins, then one named in the file name, then the known task's.
        self.split = split ?? named?.split ?? CMTEBRerankingTask.named(self.taskName)?.split ?? "test"
        self.mode = mode
        self.precision = precision
        self.modelDirectory = modelDirectory
    }

    /// The task name and split a dataset file's name implies.
    ///
    /// `T2Reranking.dev.jsonl` gives (`T2Reranking`, `dev`), as `tools/convert_cmteb.py` names
    /// its files; a known C-MTEB name is matched ignoring case; without a split in the name,
    /// the known task's evaluation split is used, else `test`.
    public static func taskAndSplit(forDataFile url: URL) -> (task: String, split: String) {
        let parts = nameParts(ofDataFile: url)
        return (parts.task, parts.split ?? CMTEBRerankingTask.named(parts.task)?.split ?? "test")
    }

    /// The task name in a data file's name and the split named after it, if any.
    private static func nameParts(ofDataFile url: URL) -> (task: String, split: String?) {
        var stem = url.deletingPathExtension().lastPathComponent
        var split: String?
        search: for candidate in ["dev", "test", "validation", "train"] {
            for separator in [".", "_", "-"] where stem.lowercased().hasSuffix(separator + candidate) {
                stem = String(stem.dropLast(separator.count + candidate.count))
                split = candidate
                break search
            }
        }
        let task = stem.isEmpty ? "reranking" : (CMTEBRerankingTask.named(stem)?.name ?? stem)
        return (task, split)
    }

    /// Scores every scorable sample and returns the metrics.
    ///
    /// - Parameters:
    ///   - scorer: scores one list (see ``Scorer``); called once per sample not resumed.
    ///   - progress: where a progress bar goes (by default stderr when it is a terminal).
    ///   - scoresOut: a JSON-lines file receiving `{"query", "scores"}` per scored sample.
    ///     Without `resume` it must not already hold scores (so a finished run is never
    ///     overwritten by accident).
    ///   - resume: continue `scoresOut`: its finished lines are checked against the dataset
    ///     and reused; an unfinished last line (a killed run) is cut off and recomputed.
    /// - Throws: ``RerankingEvaluationError``, ``ScoresFileError``; nothing already written
    ///   to the scores file is lost.
    public func run(
        scorer: Scorer,
        progress: ProgressReporter.Destination = .standardErrorIfTerminal,
        scoresOut: URL? = nil,
        resume: Bool = false
    ) throws -> RerankingResults {
        let startTime = DispatchTime.now().uptimeNanoseconds
        let dataFile = dataset.source?.path ?? "dataset"
        let scorable = dataset.samples.filter(\.isScorable)
        let skipped = dataset.samples.count - scorable.count
        guard !scorable.isEmpty else {
            throw RerankingEvaluationError.noScorableSamples(dataFile: dataFile, skipped: skipped)
        }

        var resumed: [SampleScores] = []
        var writer: ScoresFileWriter?
        if let scoresOut {
            let exists = FileManager.default.fileExists(atPath: scoresOut.path)
            if resume && exists {
                let contents = try ScoresFile.read(scoresOut)
                try Self.check(contents, against: scorable, file: scoresOut.path)
                resumed = contents.entries
                writer = try ScoresFileWriter(url: scoresOut, keepingLength: contents.finishedLength)
            } else {
                if exists && !resume && Self.fileSize(scoresOut) > 0 {
                    throw ScoresFileError.alreadyExists(file: scoresOut.path)
                }
                writer = try ScoresFileWriter(url: scoresOut, keepingLength: nil)
            }
        } else if resume {
            throw RerankingEvaluationError.resumeNeedsScoresFile
        }

        var totals = MetricSums()
        for (sample, entry) in zip(scorable, resumed) {
            totals.add(relevance: sample.relevance, scores: entry.scores)
        }

        let reporter = ProgressReporter(
            label: taskName, total: scorable.count, unit: .items("queries"),
            initialCompleted: resumed.count, destination: progress)
        for sample in scorable.dropFirst(resumed.count) {
            let passages = sample.passages
            let scores: [Float]
            do {
                scores = try scorer(sample.query, passages)
            } catch {
                throw RerankingEvaluationError.scorerFailed(dataFile: dataFile, line: sample.line, underlying: error)
            }
            guard scores.count == passages.count else {
                throw RerankingEvaluationError.wrongScoreCount(
                    dataFile: dataFile, line: sample.line, expected: passages.count, got: scores.count)
            }
            if let bad = scores.firstIndex(where: { !$0.isFinite }) {
                throw RerankingEvaluationError.nonFiniteScore(
                    dataFile: dataFile, line: sample.line, passage: bad, value: scores[bad])
            }
            try writer?.append(SampleScores(query: sample.query, scores: scores))
            totals.add(relevance: sample.relevance, scores: scores)
            reporter.advance()
        }
        reporter.finish()
        try writer?.synchronize()

        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - startTime) / 1e9
        return RerankingResults(
            taskName: taskName, split: split, metrics: totals.percentages,
            samplesScored: totals.count, samplesSkipped: skipped, samplesResumed: resumed.count,
            mode: mode, precision: precision, evaluationTime: elapsed,
            modelDirectory: modelDirectory, dataFile: dataset.source?.path)
    }

    /// Checks that each finished line of a scores file belongs to the scorable sample at its
    /// position: same query, one score per passage, all finite.
    private static func check(_ contents: ScoresFile.Contents, against scorable: [RerankingSample], file: String) throws {
        guard contents.entries.count <= scorable.count else {
            throw ScoresFileError.tooManyLines(file: file, lines: contents.entries.count, scorableSamples: scorable.count)
        }
        for (position, (entry, sample)) in zip(contents.entries, scorable).enumerated() {
            let line = contents.lineNumbers[position]
            guard entry.query == sample.query else {
                throw ScoresFileError.mismatch(
                    file: file, line: line,
                    reason: "its query \(quoted(entry.query)) differs from scored sample \(position + 1)'s "
                        + "\(quoted(sample.query)) (dataset line \(sample.line))")
            }
            guard entry.scores.count == sample.positives.count + sample.negatives.count else {
                throw ScoresFileError.mismatch(
                    file: file, line: line,
                    reason: "it has \(entry.scores.count) scores but dataset line \(sample.line) has "
                        + "\(sample.positives.count + sample.negatives.count) passages")
            }
            if let bad = entry.scores.firstIndex(where: { !$0.isFinite }) {
                throw ScoresFileError.malformedLine(file: file, line: line, reason: "score \(bad) is \(entry.scores[bad])")
            }
        }
    }

    /// A query for an error message, shortened so a long one does not flood the terminal.
    private static func quoted(_ text: String) -> String {
        text.count > 40 ? "\"\(text.prefix(40))…\"" : "\"\(text)\""
    }

    private static func fileSize(_ url: URL) -> UInt64 {
        let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
        return (attributes?[.size] as? NSNumber)?.uint64Value ?? 0
    }
}

/// Running sums of the per-sample metrics, in Double.
private struct MetricSums {
    var count = 0
    var averagePrecision = 0.0
    var reciprocalRankAt1 = 0.0
    var reciprocalRankAt5 = 0.0
    var reciprocalRankAt10 = 0.0

    mutating func add(relevance: [Bool], scores: [Float]) {
        let scores = scores.map(Double.init)
        // Scorable samples have a positive, so the AP exists.
        averagePrecision += RankingMetrics.averagePrecision(relevant: relevance, scores: scores) ?? 0
        reciprocalRankAt1 += RankingMetrics.reciprocalRank(relevant: relevance, scores: scores, cutoff: 1)
        reciprocalRankAt5 += RankingMetrics.reciprocalRank(relevant: relevance, scores: scores, cutoff: 5)
        reciprocalRankAt10 += RankingMetrics.reciprocalRank(relevant: relevance, scores: scores, cutoff: 10)
        count += 1
    }

    /// The means ×100.
    var percentages: RerankingMetrics {
        let scale = count > 0 ? 100 / Double(count) : 0
        return RerankingMetrics(
            map: averagePrecision * scale, mrrAt1: reciprocalRankAt1 * scale,
            mrrAt5: reciprocalRankAt5 * scale, mrrAt10: reciprocalRankAt10 * scale)
    }
}
