import ArgumentParser
import Foundation
import ListConRanker
import ListConRankerDistributed
import ListConRankerStore
import ListConRankerStoredPassages

/// `listconranker eval`: C-MTEB reranking metrics on a JSON-lines dataset.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "C-MTEB reranking metrics (MAP, MRR@1/5/10) on a JSON-lines dataset.",
        discussion: """
            Data lines are {"query": …, "positive": […], "negative": […]}; samples without a positive \
            or a negative are skipped and counted. Each sample is scored as one list, positives first. \
            --scores-out writes each sample's scores as it goes; --resume continues from that file. \
            --store keeps the passages' encoder vectors (under "sha256:<text hash>" ids): a later run \
            on the same encoder (another mode, a retrained head) encodes only the queries. \
            Under mpirun or srun each rank scores its share of the samples (and encodes its share of \
            the store's missing passages); rank 0 gathers the scores and prints the same metrics one \
            process would. \
            The results JSON goes to standard output (and --output); a summary of the metrics and of \
            the encoder's work goes to standard error.
            """
    )

    enum Mode: String, ExpressibleByArgument, CaseIterable {
        case iterative, conventional
    }

    @OptionGroup var modelOptions: ModelOptions<ReferenceDefaults>

    @OptionGroup var storeOptions: StoreOptions

    @Option(name: .long, help: "The dataset (JSON lines).")
    var data: String

    @Option(name: .long, help: "iterative (the published setting) or conventional.")
    var mode: Mode = .iterative

    @Option(name: .long, help: "Evaluate only the first N samples of the file.")
    var limit: Int?

    @Option(name: .long, help: "Task name in the results (default: from the file name).")
    var task: String?

    @Option(name: .long, help: "Split name in the results (default: from the file name or the task).")
    var split: String?

    @Option(name: .long, help: "Write the results JSON here (it is always printed too).")
    var output: String?

    @Option(name: .long, help: "Write one {\"query\", \"scores\"} line per scored sample here, as it goes.")
    var scoresOut: String?

    @Flag(name: .long, help: "Continue a run from --scores-out without recomputing finished samples.")
    var resume = false

    func validate() throws {
        if resume && scoresOut == nil { throw ValidationError("--resume needs --scores-out") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        try await DistributedJob.run(stopped: "rerun it (with --scores-out, one process can --resume)") {
            try await evaluate(ranks: $0)
        }
    }

    /// The evaluation as one rank of `ranks` (one process when not launched by MPI).
    func evaluate(ranks: Communicator) async throws {
        if resume && ranks.isDistributed {
            throw InputError("--resume runs in one process: rerun without mpirun, or rerun every sample with the ranks")
        }
        let dataset = try RerankingDataset(contentsOf: URL(fileURLWithPath: data), limit: limit)
        let directory = try await modelOptions.directory()
        let reranker = try Reranker(modelDirectory: directory, options: modelOptions.rerankerOptions)
        let evaluator = RerankingEvaluator(dataset: dataset, taskName: task, split: split, mode: mode.rawValue,
                                           precision: reranker.options.precision.rawValue,
                                           modelDirectory: directory.path)
        let iterative = mode == .iterative
        let began = DispatchTime.now().uptimeNanoseconds
        let stored = try await storedVectors(dataset, reranker: reranker, ranks: ranks)
        func score(_ query: String, _ passages: [String]) throws -> [Float] {
            if let stored {
                let vectors = passages.map { stored[$0] ?? [] }
                return iterative ? try reranker.iterativeScores(query: query, passageVectors: vectors)
                                 : try reranker.scores(query: query, passageVectors: vectors)
            }
            return iterative ? try reranker.iterativeScores(query: query, passages: passages)
                             : try reranker.scores(query: query, passages: passages)
        }
        var results: RerankingResults
        var work = reranker.encoderStatistics
        if ranks.isDistributed {
            // Each rank scores its share; every rank gets all scores, rank 0 replays them through
            // the evaluator (so the metrics, the scores file and the JSON are one process's).
            let scorable = dataset.samples.filter(\.isScorable)
            let scores = try ranks.shared(scorable.count) { i in
                do { return try score(scorable[i].query, scorable[i].passages) } catch {
                    throw RerankingEvaluationError.scorerFailed(dataFile: data, line: scorable[i].line, underlying: error)
                }
            }
            work = try Self.summed(reranker.encoderStatistics, over: ranks)
            guard ranks.isRoot else { return }
            var next = 0
            results = try evaluator.run(scorer: { _, _ in
                defer { next += 1 }
                return scores[next]
            }, progress: .none, scoresOut: scoresOut.map { URL(fileURLWithPath: $0) })
            results.evaluationTime = Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9
        } else {
            results = try evaluator.run(scorer: score, scoresOut: scoresOut.map { URL(fileURLWithPath: $0) }, resume: resume)
            work = reranker.encoderStatistics
        }
        let json = try results.jsonData()
        if let output { try json.write(to: URL(fileURLWithPath: output)) }
        FileHandle.standardOutput.write(json + Data("\n".utf8))
        FileHandle.standardError.write(Data(summary(results, iterative: iterative, reranker: reranker, work: work,
                                                    ranks: ranks.size).utf8))
    }

    /// The encoder's work summed over the ranks (the largest batch: the largest of any rank).
    static func summed(_ work: EncoderStatistics, over ranks: Communicator) throws -> EncoderStatistics {
        var sums = [Double(work.texts), Double(work.batches)]
        var largest = [Double(work.largestBatchTokens)]
        try ranks.sum(&sums)
        try ranks.maximum(&largest)
        var total = work
        total.texts = Int(sums[0])
        total.batches = Int(sums[1])
        total.largestBatchTokens = Int(largest[0])
        return total
    }

    /// With `--store`: every passage of the dataset by text, its vector from the store under the
    /// id `sha256:<hex of the text>`; passages the store lacks are encoded once and added first,
    /// so a second evaluation (another mode, another head on the same encoder) encodes only queries.
    /// The look-ups happen before scoring, because the evaluator's scorer is synchronous.
    private func storedVectors(_ dataset: RerankingDataset, reranker: Reranker,
                               ranks: Communicator) async throws -> [String: [Float]]? {
        guard storeOptions.store != nil else { return nil }
        // Rank 0 creates the store before the others open it; each rank then encodes its share.
        if !ranks.isRoot { try ranks.barrier() }
        guard let stored = try await storeOptions.open(for: reranker) else { return nil }
        if ranks.isRoot { try ranks.barrier() }
        let all = Set(dataset.samples.filter(\.isScorable).flatMap(\.passages))
        // A store keeps no blank texts; the few a dataset may have are encoded here each run.
        let texts = all.filter { !$0.allSatisfy(\.isWhitespace) }.sorted()
        let blank = all.filter { $0.allSatisfy(\.isWhitespace) }.sorted()
        func id(_ text: String) -> String { "sha256:" + StoredPassages.textHash(text).hex }
        do {
            _ = try await stored.index(texts[ranks.share(of: texts.count)].map { IndexedPassage(id: id($0), text: $0) })
            try ranks.barrier()
            let vectors = try await stored.vectors(ids: texts.map(id))
            try await stored.store.close()
            return Dictionary(uniqueKeysWithValues: Array(zip(texts, vectors)) + Array(zip(blank, try reranker.pooledVectors(for: blank))))
        } catch let error as FeatureStoreError {
            throw InputError("\(error)")
        }
    }

    /// The metrics (beside the published figures for a C-MTEB task) and the encoder's work, which
    /// shows the options the run really used (`--encoder-batch-tokens` bounds the largest batch).
    private func summary(_ results: RerankingResults, iterative: Bool, reranker: Reranker, work: EncoderStatistics,
                         ranks: Int) -> String {
        let m = results.metrics
        var published = ""
        if let task = CMTEBRerankingTask.named(results.taskName) {
            published = String(format: " (published %.2f)",
                               iterative ? task.published.map : task.publishedConventionalMAP)
        }
        return String(format: "%@: MAP %.2f%@, MRR@1 %.2f, MRR@5 %.2f, MRR@10 %.2f\n",
                      results.taskName, m.map, published, m.mrrAt1, m.mrrAt5, m.mrrAt10)
            + "encoder: \(work.texts) texts in \(work.batches) batches, largest \(work.largestBatchTokens) tokens "
            + "(--encoder-batch-tokens \(reranker.options.encoderBatchTokens), --max-length \(reranker.options.maxLength), "
            + "precision \(reranker.options.precision.rawValue))\(ranks > 1 ? ", over \(ranks) ranks" : "")\n"
    }
}
