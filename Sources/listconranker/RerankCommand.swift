import ArgumentParser
import Foundation
import ListConRanker

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

            Example: listconranker rerank --model ListConRanker '高血压吃什么' '多吃蔬菜' '今天天气很好'
            """
    )

    @OptionGroup var modelOptions: ModelOptions<ReferenceDefaults>

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
        if input == nil && texts.count < 2 {
            throw ValidationError("give a query and at least one passage, or --input FILE.jsonl")
        }
        if input != nil && !texts.isEmpty { throw ValidationError("give either --input or texts, not both") }
        if let topN, topN < 1 { throw ValidationError("--top-n must be at least 1") }
        if let query = texts.first, query.allSatisfy(\.isWhitespace) { throw ValidationError("the query is empty") }
    }

    func run() async throws {
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
}
