import ArgumentParser
import Foundation
import ListConRanker

/// `listconranker score`: conventional scores of lists, in passage order.
struct ScoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Conventional ListConRanker scores (probabilities) in passage order.",
        discussion: """
            Reads --input FILE.jsonl with one {"query": …, "passages": […]} per line and writes one \
            {"scores": […]} line per list: the original compute_score, without iterative inference.
            """
    )

    @OptionGroup var modelOptions: ModelOptions<ReferenceDefaults>

    @Option(name: .long, help: "JSON lines of {\"query\": …, \"passages\": […]}.")
    var input: String

    @Flag(name: .long, help: "Write logits instead of probabilities.")
    var raw = false

    func run() async throws {
        let lists = try InputText.queryLists(input)
        let reranker = try await modelOptions.makeReranker()
        for list in lists {
            let scores = raw ? try reranker.logits(query: list.query, passages: list.passages)
                             : try reranker.scores(query: list.query, passages: list.passages)
            try JSONLineOutput.write(["scores": scores])
        }
    }
}
