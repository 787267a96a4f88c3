import ArgumentParser
import Foundation
import ListConRanker

/// `listconranker tokenize`: one JSON line of ids and tokens per input line.
struct TokenizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize text lines as the model's BERT tokenizer does.",
        discussion: """
            Reads lines from standard input (or --input) and writes one JSON line per input line: \
            {"ids": [...], "tokens": [...]}, with [CLS] and [SEP] and truncation to --max-length.
            """
    )

    @Option(name: .long, help: "Model directory with tokenizer.json or vocab.txt (+ tokenizer_config.json), or a hub repository id.")
    var model: String = ModelLocation.defaultModel

    @Option(name: .long, help: "Hub branch, tag or commit when --model is a repository id (default: main).")
    var revision: String?

    @Option(name: .long, help: "Most tokens per text, [CLS] and [SEP] included.")
    var maxLength: Int = 512

    @Option(name: .long, help: "Read lines from this file instead of standard input.")
    var input: String?

    @Option(name: .long, help: ArgumentHelp(
        "Instead of writing tokens, encode all lines this many times (one text at a time, then as one batch) and print the best tokens per second as JSON.",
        visibility: .hidden))
    var benchmarkRepeats: Int?

    func validate() throws {
        guard maxLength >= 2 else { throw ValidationError("--max-length must be at least 2 (room for [CLS] and [SEP]), not \(maxLength)") }
        try ModelLocation.validate(model, revision: revision)
    }

    func run() async throws {
        let tokenizer = try BertTokenizer(directory: await ModelLocation.directory(model, revision: revision))
        let lines = try InputText.lines(input)
        if let benchmarkRepeats {
            print(benchmark(tokenizer, lines, repeats: max(benchmarkRepeats, 1)))
            return
        }
        var output = ""
        output.reserveCapacity(1 << 20)
        for line in lines {
            output += tokenizer.encode(line, maxLength: maxLength).jsonLine
            output += "\n"
            if output.utf8.count >= 1 << 20 {
                FileHandle.standardOutput.write(Data(output.utf8))
                output.removeAll(keepingCapacity: true)
            }
        }
        FileHandle.standardOutput.write(Data(output.utf8))
    }

    /// Best-of-`repeats` throughput, single thread: `{"single_tokens_per_s": …, "batch_tokens_per_s": …, "tokens": …}`.
    private func benchmark(_ tokenizer: BertTokenizer, _ lines: [String], repeats: Int) -> String {
        func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
        }
        var tokens = 0
        var bestSingle = Double.infinity, bestBatch = Double.infinity
        for _ in 0..<repeats {
            var count = 0
            let start = ContinuousClock.now
            for line in lines { count += tokenizer.encode(line, maxLength: maxLength).ids.count }
            bestSingle = min(bestSingle, seconds(ContinuousClock.now - start))
            tokens = count
            let batchStart = ContinuousClock.now
            let batch = tokenizer.encode(batch: lines, maxLength: maxLength)
            bestBatch = min(bestBatch, seconds(ContinuousClock.now - batchStart))
            precondition(batch.reduce(0) { $0 + $1.ids.count } == count)
        }
        return "{\"tokens\": \(tokens), \"single_tokens_per_s\": \(Double(tokens) / bestSingle), "
            + "\"batch_tokens_per_s\": \(Double(tokens) / bestBatch)}"
    }
}
