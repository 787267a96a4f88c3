import ArgumentParser
import Foundation
import ListConRanker
import ListConRankerStore

/// `listconranker rerank`: rank passages for a query, best first.
struct RerankCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rerank",
        abstract: "Rank passages for a query with ListConRanker, best first.",
        discussion: """
            Give the query and passages as arguments, or --input FILE.jsonl with one \
            {"query": …, "passages": […]} per line. Lists of more than 20 passages use iterative \
            inference unless --conventional is given; iterative scores order passages but are \
            not probabilities. With --json, one line per list: {"results": [{"index": i, "score": s}, …]}, \
            best first, index counting passages from 0.

            With --store (after `listconranker index`), passages are stored ones named by --ids \
            (or "ids" in the --input lines) and are not encoded again: only the query is. The \
            JSON results then carry each passage's "id" too.

            Example: listconranker rerank --model ListConRanker '高血压吃什么' '多吃蔬菜' '今天天气很好'
            """
    )

    @OptionGroup var modelOptions: ModelOptions<ReferenceDefaults>

    @OptionGroup var storeOptions: StoreOptions

    @Option(name: .long, parsing: .upToNextOption, help: "With --store: the ids of the stored passages to rank.")
    var ids: [String] = []

    @Option(name: .long, help: "JSON lines of {\"query\": …, \"passages\": […]} to rank.")
    var input: String?

    @Flag(name: .long, help: "Turn iterative inference off: score each list in one pass.")
    var conventional = false

    @Option(name: .long, help: "Show only the best N passages.")
    var topN: Int?

    @Flag(name: .long, help: "One JSON line per list instead of a table.")
    var json = false

    @Argument(help: "The query, then the passages (when --input is not given).")
    var texts: [String] = []

    func validate() throws {
        if storeOptions.store != nil {
            if input == nil && (texts.count != 1 || ids.isEmpty) {
                throw ValidationError("with --store, give the query and --ids ID…, or --input FILE.jsonl of {\"query\", \"ids\"}")
            }
            if input != nil && !(texts.isEmpty && ids.isEmpty) { throw ValidationError("give either --input or a query and --ids, not both") }
        } else if !ids.isEmpty {
            throw ValidationError("--ids names stored passages: give --store too")
        } else if input == nil && texts.count < 2 {
            throw ValidationError("give a query and at least one passage, or --input FILE.jsonl")
        }
        if input != nil && !texts.isEmpty { throw ValidationError("give either --input or texts, not both") }
        if let topN, topN < 1 { throw ValidationError("--top-n must be at least 1") }
        if let query = texts.first, query.allSatisfy(\.isWhitespace) { throw ValidationError("the query is empty") }
    }

    func run() async throws {
        if storeOptions.store != nil { return try await runOnStore() }
        let lists = try input.map(InputText.queryLists) ?? [(texts[0], Array(texts.dropFirst()))]
        let reranker = try await modelOptions.makeReranker()
        for (number, list) in lists.enumerated() {
            let ranked = try reranker.rerank(query: list.query, passages: list.passages, topN: topN,
                                             iterative: !conventional)
            if json {
                try JSONLineOutput.write(["results": ranked])
            } else {
                if lists.count > 1 { print("\(number > 0 ? "\n" : "")# \(list.query)") }
                print("rank  index  score      passage")
                for (rank, r) in ranked.enumerated() {
                    let text = list.passages[r.index].replacingOccurrences(of: "\n", with: " ")
                    let shown = text.count > 60 ? String(text.prefix(59)) + "…" : text
                    print(String(format: "%4d  %5d  %-9.6f  ", rank + 1, r.index, r.score) + shown)
                }
            }
        }
    }

    /// Ranks stored passages: their vectors come from the store, only the queries are encoded.
    private func runOnStore() async throws {
        let lists = try input.map(StoredQueryLists.read) ?? [(texts[0], ids)]
        let reranker = try await modelOptions.makeReranker()
        guard let stored = try await storeOptions.open(for: reranker) else { return }
        struct Result: Encodable { let index: Int; let id: String; let score: Float }
        for (number, list) in lists.enumerated() {
            let ranked: [RankedPassage]
            do {
                ranked = try await stored.rerank(query: list.query, ids: list.ids, topN: topN, iterative: !conventional)
            } catch let error as FeatureStoreError {
                throw InputError("\(error)")
            }
            if json {
                try JSONLineOutput.write(["results": ranked.map { Result(index: $0.index, id: list.ids[$0.index], score: $0.score) }])
            } else {
                if lists.count > 1 { print("\(number > 0 ? "\n" : "")# \(list.query)") }
                print("rank  index  score      id")
                for (rank, r) in ranked.enumerated() {
                    print(String(format: "%4d  %5d  %-9.6f  ", rank + 1, r.index, r.score) + list.ids[r.index])
                }
            }
        }
        try await stored.store.close()
    }
}
