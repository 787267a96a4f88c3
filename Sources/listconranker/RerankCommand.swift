import ArgumentParser
import Foundation
import ListConRanker

/// `listconranker rerank`: rank passages for a query, best first.
struct RerankCommand: ParsableCommand {
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

    @OptionGroup var modelOptions: ModelOptions

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
    }

    func run() throws {
        let lists = try input.map(InputText.queryLists) ?? [(texts[0], Array(texts.dropFirst()))]
        let reranker = try modelOptions.makeReranker()
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

/// `listconranker score`: conventional scores of lists, in passage order.
struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Conventional ListConRanker scores (probabilities) in passage order.",
        discussion: """
            Reads --input FILE.jsonl with one {"query": …, "passages": […]} per line and writes one \
            {"scores": […]} line per list: the original compute_score, without iterative inference.
            """
    )

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "JSON lines of {\"query\": …, \"passages\": […]}.")
    var input: String

    @Flag(name: .long, help: "Write logits instead of probabilities.")
    var raw = false

    func run() throws {
        let lists = try InputText.queryLists(input)
        let reranker = try modelOptions.makeReranker()
        for list in lists {
            let scores = raw ? try reranker.logits(query: list.query, passages: list.passages)
                             : try reranker.scores(query: list.query, passages: list.passages)
            try JSONLineOutput.write(["scores": scores])
        }
    }
}

/// `listconranker embed`: mean-pooled BERT embeddings, one JSON array per input line.
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Mean-pooled BERT embeddings of text lines (any BERT model directory).",
        discussion: "Reads lines from standard input (or --input) and writes one JSON array of floats per line."
    )

    @Option(name: .long, help: "A BERT model directory (config.json, weights, tokenizer files) or a hub repository id.")
    var model: String

    @Option(name: .long, help: "Hub branch, tag or commit when --model is a repository id.")
    var revision: String?

    @Option(name: .long, help: "Read lines from this file instead of standard input.")
    var input: String?

    @Option(name: .long, help: "Matrix-product precision: fp32, bf16 or auto.")
    var precision: String = "fp32"

    func run() throws {
        guard let chosen = precision == "auto" ? Precision.automatic : Precision(rawValue: precision) else {
            throw ValidationError("--precision must be fp32, bf16 or auto")
        }
        let embedder = try TextEmbedder(modelDirectory: ModelLocation.directory(model, revision: revision), precision: chosen)
        let lines = try InputText.lines(input)
        // In slices, so output streams and memory stays bounded for long inputs.
        var start = 0
        while start < lines.count {
            let slice = Array(lines[start..<min(start + 256, lines.count)])
            for vector in try embedder.embeddings(for: slice) { try JSONLineOutput.write(vector) }
            start += slice.count
        }
    }
}
