import ArgumentParser
import Foundation
import ListConRanker
import ListConRankerStore

/// `listconranker score`: conventional scores of lists, in passage order.
struct ScoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Conventional ListConRanker scores (probabilities) in passage order.",
        discussion: """
            Reads --input FILE.jsonl with one {"query": …, "passages": […]} per line and writes one \
            {"scores": […]} line per list: the original compute_score, without iterative inference. \
            With --store, lines are {"query": …, "ids": […]} naming stored passages (see `index`), \
            which are not encoded again.
            """
    )

    @OptionGroup var modelOptions: ModelOptions<ReferenceDefaults>

    @OptionGroup var storeOptions: StoreOptions

    @Option(name: .long, help: "JSON lines of {\"query\": …, \"passages\": […]}.")
    var input: String

    @Flag(name: .long, help: "Write logits instead of probabilities.")
    var raw = false

    func validate() throws {
        if raw && storeOptions.store != nil { throw ValidationError("--raw is not available with --store") }
    }

    func run() async throws {
        if storeOptions.store != nil { return try await runOnStore() }
        let lists = try InputText.queryLists(input)
        let reranker = try await modelOptions.makeReranker()
        for list in lists {
            let scores = raw ? try reranker.logits(query: list.query, passages: list.passages)
                             : try reranker.scores(query: list.query, passages: list.passages)
            try JSONLineOutput.write(["scores": scores])
        }
    }

    /// Scores stored passages: their vectors come from the store, only the queries are encoded.
    private func runOnStore() async throws {
        let lists = try StoredQueryLists.read(input)
        let reranker = try await modelOptions.makeReranker()
        guard let stored = try await storeOptions.open(for: reranker) else { return }
        for list in lists {
            do {
                try JSONLineOutput.write(["scores": try await stored.scores(query: list.query, ids: list.ids, iterative: false)])
            } catch let error as FeatureStoreError {
                throw InputError("\(error)")
            }
        }
        try await stored.store.close()
    }
}
