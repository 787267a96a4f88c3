import ArgumentParser
import Foundation
import ListConRanker
import ListConRankerDistributed
import ListConRankerStore
import ListConRankerStoredPassages

/// `listconranker index`: encode passages once and keep their vectors in a feature store.
struct IndexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Encode passages once and store their vectors, so reranks encode only the query.",
        discussion: """
            Reads --input FILE.jsonl with one {"id": …, "text": …} per line, encodes each text whose \
            id is new or whose text changed, and stores its mean-pooled encoder vector under the id \
            (with a hash of the text) in --store. Unchanged passages are skipped, so a killed run \
            resumes where it stopped: every batch is written in one transaction. A later line with \
            the same id wins. --delete FILE removes the ids it lists, one per line. Prints one JSON \
            line: {"indexed", "unchanged", "duplicates", "deleted", "stored"}.

            Under mpirun or srun each rank encodes and writes its share of the ids (every id by one \
            rank: the store receives each vector once); rank 0 deletes and prints the job's totals.

            Then: listconranker rerank --model M --store S --ids ID… QUERY
            """
    )

    @OptionGroup var modelOptions: ModelOptions<ReferenceDefaults>

    @Option(name: .long, help: "The feature store: an SQLite file (created if missing) or postgres://user:password@host/db.")
    var store: String

    @Option(name: .long, help: "JSON lines of {\"id\": …, \"text\": …} to index.")
    var input: String?

    @Option(name: .long, help: "A file of ids to remove, one per line.")
    var delete: String?

    @Option(name: .long, help: "How a new store keeps vectors: fp32, or bf16 at half the size (an existing store keeps its own).")
    var storePrecision: VectorPrecision?

    @Option(name: .long, help: "Passages per encoder call and per transaction.")
    var batchSize: Int = 64

    func validate() throws {
        if input == nil && delete == nil { throw ValidationError("give --input FILE.jsonl to index, --delete FILE, or both") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        do { _ = try FeatureStoreLocation(parsing: store) } catch { throw ValidationError("--store: \(error)") }
    }

    func run() async throws {
        try await DistributedJob.run(stopped: "every finished batch is in the store: rerun the same command to finish") {
            try await index(ranks: $0)
        }
    }

    /// The indexing as one rank of `ranks` (one process when not launched by MPI).
    func index(ranks: Communicator) async throws {
        // Read and check everything first: a bad line stops the run before anything is written.
        let allPassages = try input.map(Self.passages) ?? []
        // Each id goes to one rank: the last line of each id, split into the ranks' shares.
        let (unique, duplicates) = IndexedPassage.lastOfEachID(allPassages)
        let passages = ranks.isDistributed ? Array(unique[ranks.share(of: unique.count)]) : allPassages
        let deletions = try delete.map { try InputText.lines($0).filter { !$0.allSatisfy(\.isWhitespace) } } ?? []
        let reranker = try await modelOptions.makeReranker()
        let stored: StoredPassages
        // Rank 0 creates the store before the others open it.
        if !ranks.isRoot { try ranks.barrier() }
        do {
            stored = try await StoredPassages.open(reranker: reranker, location: try FeatureStoreLocation(parsing: store),
                                                   precision: storePrecision)
        } catch let error as FeatureStoreError {
            throw InputError("\(error)")
        }
        if ranks.isRoot { try ranks.barrier() }
        struct Summary: Encodable {
            var indexed = 0, unchanged = 0, duplicates = 0, deleted = 0, stored = 0
        }
        var summary = Summary()
        do {
            if !passages.isEmpty {
                let bar = ProgressReporter(label: "index", total: passages.count, unit: .items("passages"))
                let box = ProgressBox(bar)
                let report = try await stored.index(passages, batchSize: batchSize) { box.update($0) }
                bar.finish()
                (summary.indexed, summary.unchanged, summary.duplicates) = (report.indexed, report.unchanged, report.duplicates)
            }
            if ranks.isDistributed {
                // The job's totals; deletions and the count wait until every rank has written.
                var counts = [Double(summary.indexed), Double(summary.unchanged)]
                try ranks.sum(&counts)
                (summary.indexed, summary.unchanged, summary.duplicates) = (Int(counts[0]), Int(counts[1]), duplicates)
                try ranks.barrier()
                guard ranks.isRoot else {
                    try await stored.store.close()
                    return
                }
            }
            if !deletions.isEmpty { summary.deleted = try await stored.store.delete(ids: deletions) }
            summary.stored = try await stored.store.count()
            try await stored.store.close()
        } catch let error as FeatureStoreError {
            throw InputError("\(error)")
        }
        try JSONLineOutput.write(summary)
    }

    /// The passages of `path`, each with a non-empty id and a non-blank text.
    static func passages(_ path: String) throws -> [IndexedPassage] {
        try InputText.jsonLines(path, expected: "{\"id\": string, \"text\": string}") { (passage: IndexedPassage, place) in
            guard !passage.id.isEmpty else { throw InputError("\(place): the id is empty") }
            guard !passage.text.allSatisfy(\.isWhitespace) else { throw InputError("\(place): the text of \"\(passage.id)\" is empty") }
            return passage
        }
    }
}

/// Lets the store's progress callback (which must be Sendable) redraw the bar.
private final class ProgressBox: @unchecked Sendable {
    private let lock = NSLock()
    private let bar: ProgressReporter
    init(_ bar: ProgressReporter) { self.bar = bar }
    func update(_ done: Int) { lock.withLock { bar.update(completed: done) } }
}

extension VectorPrecision: ExpressibleByArgument {}
