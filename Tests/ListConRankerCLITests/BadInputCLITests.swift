import Foundation
import Testing

/// Mistakes give `Error: …` on standard error, naming what is wrong, and a non-zero exit:
/// 64 (usage) for options that cannot be right, 1 for input found bad while running.
@Suite struct BadInputCLITests {
    static let model = CLIFixtures.tinyModel

    private func expectError(_ result: CLIResult, status: Int32, _ message: String,
                             sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == status, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains("Error: "), "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(message), "expected “\(message)”: \(result)", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, "\(result)", sourceLocation: sourceLocation)
    }

    @Test func missingModelDirectory() throws {
        for command in [["rerank", "q", "p"], ["eval", "--data", CLIFixtures.evaluationData], ["serve"]] {
            let result = try CLI.run(command + ["--model", "/nonexistent/model-dir"])
            expectError(result, status: CLI.usageError, "no file or directory exists at /nonexistent/model-dir")
        }
    }

    /// An existing directory that is not a model: the loader names the missing file.
    @Test func directoryWithoutAModel() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let result = try CLI.run(["rerank", "--model", directory.url.path, "q", "p"])
        expectError(result, status: CLI.failure, "config.json")
    }

    @Test func missingInputFile() throws {
        for command in ["rerank", "score"] {
            let result = try CLI.run([command, "--model", Self.model, "--input", "/nonexistent/lists.jsonl"])
            expectError(result, status: CLI.failure, "cannot read /nonexistent/lists.jsonl")
        }
        let embed = try CLI.run(["embed", "--model", Self.model, "--input", "/nonexistent/texts.txt"])
        expectError(embed, status: CLI.failure, "cannot read /nonexistent/texts.txt")
    }

    @Test func malformedJSONLineNamesFileAndLine() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let input = try directory.file("lists.jsonl", """
            {"query": "q", "passages": ["a", "b"]}

            {"query": "q", "passages": ["a", "b"
            """)
        let result = try CLI.run(["score", "--model", Self.model, "--input", input.path])
        expectError(result, status: CLI.failure, "\(input.path):3: expected {\"query\": string, \"passages\": [string]} (not valid JSON)")

        let wrongType = try directory.file("typed.jsonl", "{\"query\": \"q\", \"passages\": \"a\"}\n")
        let typed = try CLI.run(["rerank", "--model", Self.model, "--input", wrongType.path])
        expectError(typed, status: CLI.failure, "\(wrongType.path):1: expected")
        #expect(typed.stderr.contains("wrong type at \"passages\""), "\(typed)")
    }

    @Test func emptyQuery() throws {
        let arguments = try CLI.run(["rerank", "--model", Self.model, " ", "a passage"])
        expectError(arguments, status: CLI.usageError, "the query is empty")

        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let input = try directory.file("lists.jsonl", "{\"query\": \"q\", \"passages\": [\"a\"]}\n{\"query\": \"\", \"passages\": [\"a\"]}\n")
        let file = try CLI.run(["score", "--model", Self.model, "--input", input.path])
        expectError(file, status: CLI.failure, "\(input.path):2: the query is empty")
    }

    /// One parser for `--precision` everywhere, `auto` included: the same message from each command.
    @Test func bogusPrecision() throws {
        var messages = Set<String>()
        for command in [["rerank", "q", "p"], ["embed"], ["eval", "--data", CLIFixtures.evaluationData], ["serve"]] {
            let result = try CLI.run(command + ["--model", Self.model, "--precision", "bogus"])
            expectError(result, status: CLI.usageError, "'bogus'")
            #expect(["'fp32'", "'bf16'", "'fp16'", "'int8'", "'auto'"].allSatisfy { result.stderr.contains($0) }, "\(result)")
            messages.insert(String(result.stderr.split(separator: "\n").first ?? ""))
        }
        #expect(messages.count == 1, "\(messages)")
        let bench = try CLI.run(["bench", "matmul", "--precision", "fp32,bogus"])
        expectError(bench, status: CLI.usageError, "unknown precision 'bogus'")
    }

    @Test func maxLengthBelowTwo() throws {
        for command in [["rerank", "q", "p"], ["score", "--input", "x"], ["embed"], ["serve"],
                        ["eval", "--data", CLIFixtures.evaluationData]] {
            let result = try CLI.run(command + ["--model", Self.model, "--max-length", "1"])
            expectError(result, status: CLI.usageError, "--max-length must be at least 2")
        }
        let tokenize = try CLI.run(["tokenize", "--model", Self.model, "--max-length", "1"])
        expectError(tokenize, status: CLI.usageError, "--max-length must be at least 2")
    }

    /// Longer than the encoder's positions: found when the model loads.
    @Test func maxLengthBeyondTheEncoder() throws {
        let result = try CLI.run(["rerank", "--model", Self.model, "--max-length", "513", "q", "p"])
        expectError(result, status: CLI.failure, "maxLength 513 exceeds the encoder's 512 positions")
    }

    @Test func encoderBatchTokensBelowOne() throws {
        let result = try CLI.run(["rerank", "--model", Self.model, "--encoder-batch-tokens", "0", "q", "p"])
        expectError(result, status: CLI.usageError, "--encoder-batch-tokens must be at least 1")
    }

    @Test func evalLimitZero() throws {
        let result = try CLI.run(["eval", "--model", Self.model, "--data", CLIFixtures.evaluationData, "--limit", "0"])
        expectError(result, status: CLI.usageError, "--limit must be at least 1")
    }

    @Test func evalResumeWithoutScoresOut() throws {
        let result = try CLI.run(["eval", "--model", Self.model, "--data", CLIFixtures.evaluationData, "--resume"])
        expectError(result, status: CLI.usageError, "--resume needs --scores-out")
    }

    @Test func evalMissingData() throws {
        let result = try CLI.run(["eval", "--model", Self.model, "--data", "/nonexistent/data.jsonl"])
        expectError(result, status: CLI.failure, "/nonexistent/data.jsonl")
    }

    @Test func rerankWithoutPassages() throws {
        let result = try CLI.run(["rerank", "--model", Self.model, "only a query"])
        expectError(result, status: CLI.usageError, "give a query and at least one passage")
    }
}
