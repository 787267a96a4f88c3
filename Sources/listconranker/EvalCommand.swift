import ArgumentParser
import Foundation
import ListConRanker
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
        let dataset = try RerankingDataset(contentsOf: URL(fileURLWithPath: data), limit: limit)
        let directory = try await modelOptions.directory()
        let reranker = try Reranker(modelDirectory: directory, options: modelOptions.rerankerOptions)
        let evaluator = RerankingEvaluator(dataset: dataset, taskName: task, split: split, mode: mode.rawValue,
                                           precision: reranker.options.precision.rawValue,
                                           modelDirectory: directory.path)
        let iterative = mode == .iterative
        let stored = try await storedVectors(dataset, reranker: reranker)
        let results = try evaluator.run(
            scorer: { query, passages in
                if let stored {
                    let vectors = passages.map { stored[$0] ?? [] }
                    return iterative ? try reranker.iterativeScores(query: query, passageVectors: vectors)
                                     : try reranker.scores(query: query, passageVectors: vectors)
                }
                return iterative ? try reranker.iterativeScores(query: query, passages: passages)
                                 : try reranker.scores(query: query, passages: passages)
            },
            scoresOut: scoresOut.map { URL(fileURLWithPath: $0) }, resume: resume)
        let json = try results.jsonData()
        if let output { try json.write(to: URL(fileURLWithPath: output)) }
        FileHandle.standardOutput.write(json + Data("\n".utf8))
        FileHandle.standardError.write(Data(summary(results, iterative: iterative, reranker: reranker).utf8))
    }

    /// With `--store`: every passage of the dataset by text, its vector from the store under the
    /// id `sha256:<hex of the text>`; passages the store lacks are encoded once and added first,
    /// so a second evaluation (another mode, another head on the same encoder) encodes only queries.
    /// The look-ups happen before scoring, because the evaluator's scorer is synchronous.
    private func storedVectors(_ dataset: RerankingDataset, reranker: Reranker) async throws -> [String: [Float]]? {
        guard let stored = try await storeOptions.open(for: reranker) else { return nil }
        let all = Set(dataset.samples.filter(\.isScorable).flatMap(\.passages))
        // A store keeps no blank texts; the few a dataset may have are encoded here each run.
        let texts = all.filter { !$0.allSatisfy(\.isWhitespace) }.sorted()
        let blank = all.filter { $0.allSatisfy(\.isWhitespace) }.sorted()
        func id(_ text: String) -> String { "sha256:" + StoredPassages.textHash(text).hex }
        do {
            _ = try await stored.index(texts.map { IndexedPassage(id: id($0), text: $0) })
            let vectors = try await stored.vectors(ids: texts.map(id))
            try await stored.store.close()
            return Dictionary(uniqueKeysWithValues: Array(zip(texts, vectors)) + Array(zip(blank, try reranker.pooledVectors(for: blank))))
        } catch let error as FeatureStoreError {
            throw InputError("\(error)")
        }
    }

    /// The metrics (beside the published figures for a C-MTEB task) and the encoder's work, which
    /// shows the options the run really used (`--encoder-batch-tokens` bounds the largest batch).
    private func summary(_ results: RerankingResults, iterative: Bool, reranker: Reranker) -> String {
        let m = results.metrics
        var published = ""
        if let task = CMTEBRerankingTask.named(results.taskName) {
            published = String(format: " (published %.2f)",
                               iterative ? task.published.map : task.publishedConventionalMAP)
        }
        let work = reranker.encoderStatistics
        return String(format: "%@: MAP %.2f%@, MRR@1 %.2f, MRR@5 %.2f, MRR@10 %.2f\n",
                      results.taskName, m.map, published, m.mrrAt1, m.mrrAt5, m.mrrAt10)
            + "encoder: \(work.texts) texts in \(work.batches) batches, largest \(work.largestBatchTokens) tokens "
            + "(--encoder-batch-tokens \(reranker.options.encoderBatchTokens), --max-length \(reranker.options.maxLength), "
            + "precision \(reranker.options.precision.rawValue))\n"
    }
}
