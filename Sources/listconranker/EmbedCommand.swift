import ArgumentParser
import Foundation
import ListConRanker

/// `listconranker embed`: mean-pooled BERT embeddings, one JSON array per input line.
struct EmbedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Mean-pooled BERT embeddings of text lines (any BERT model directory).",
        discussion: """
            Reads lines from standard input (or --input) and writes one JSON array of floats per line. \
            --model may be any BERT directory (config.json, weights, tokenizer files); the \
            ListConRanker files are not needed.
            """
    )

    @OptionGroup var modelOptions: ModelOptions<ReferenceDefaults>

    @Option(name: .long, help: "Read lines from this file instead of standard input.")
    var input: String?

    /// Lines embedded per call, so output streams and memory stays bounded for long inputs.
    private static let linesPerSlice = 256

    func run() async throws {
        let options = modelOptions.rerankerOptions
        let embedder = try TextEmbedder(modelDirectory: await modelOptions.directory(), precision: options.precision,
                                        maxLength: options.maxLength, batchTokens: options.encoderBatchTokens,
                                        device: options.device)
        let lines = try InputText.lines(input)
        var start = 0
        while start < lines.count {
            let slice = Array(lines[start..<min(start + Self.linesPerSlice, lines.count)])
            for vector in try embedder.embeddings(for: slice) { try JSONLineOutput.write(vector) }
            start += slice.count
        }
    }
}
