import ArgumentParser
import Foundation
import ListConRanker

/// `listconranker tokenize`: one JSON line of ids and tokens per input line.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize text lines as the model's BERT tokenizer does.",
        discussion: """
            Reads lines from standard input (or --input) and writes one JSON line per input line: \
            {"ids": [...], "tokens": [...]}, with [CLS] and [SEP] and truncation to --max-length.
            """
    )

    @Option(name: .long, help: "Model directory with tokenizer.json or vocab.txt (+ tokenizer_config.json).")
    var model: String

    @Option(name: .long, help: "Most tokens per text, [CLS] and [SEP] included.")
    var maxLength: Int = 512

    @Option(name: .long, help: "Read lines from this file instead of standard input.")
    var input: String?

    func validate() throws {
        guard maxLength >= 2 else { throw ValidationError("--max-length must be at least 2 (room for [CLS] and [SEP])") }
    }

    func run() throws {
        let tokenizer = try BertTokenizer(directory: URL(fileURLWithPath: model, isDirectory: true))
        let bytes: [UInt8]
        let source: String
        if let input {
            source = input
            guard let data = FileManager.default.contents(atPath: input) else {
                throw TokenizerError.unreadableFile(path: input, reason: "no such file or not readable")
            }
            bytes = [UInt8](data)
        } else {
            source = "<stdin>"
            bytes = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
        }
        let lines = try TextLines.split(bytes, source: source)
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
}
