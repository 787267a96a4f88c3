import Foundation
import Testing

/// `embed` and `tokenize`: one JSON line per input line, equal to the reference's.
@Suite struct TextCLITests {
    @Test func embedGivesPyTorchsMeanPooledVectors() throws {
        let golden = try CLIFixtures.modelGoldens()
        let texts = golden.lists[1]
        let first = golden.lists[0].count   // `pooled` runs over every text of `lists`, in order
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let input = try directory.file("texts.txt", texts.joined(separator: "\n") + "\n")
        let result = try CLI.run(["embed", "--model", CLIFixtures.tinyModel, "--input", input.path])
        try #require(result.status == 0, "\(result)")
        let vectors = try result.stdoutLines.map { try decode([Float].self, $0) }
        try #require(vectors.count == texts.count, "\(result)")
        for (i, vector) in vectors.enumerated() {
            #expect(close(vector, golden.pooled[first + i]), "text \(i): \(vector) vs \(golden.pooled[first + i])")
        }
    }

    /// Standard input is read when there is no `--input`.
    @Test func embedReadsStandardInput() throws {
        let golden = try CLIFixtures.modelGoldens()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let input = try directory.file("query.txt", golden.lists[0][0] + "\n")
        let result = try CLI.run(["embed", "--model", CLIFixtures.tinyModel, "--precision", "auto"], stdinFile: input)
        try #require(result.status == 0, "\(result)")
        let vector = try decode([Float].self, try #require(result.stdoutLines.first))
        // auto may pick bf16 on this CPU, so only a loose agreement is expected.
        #expect(close(vector, golden.pooled[0], tolerance: 0.05), "\(vector) vs \(golden.pooled[0])")
    }

    /// `--precision int8` reaches the encoder through the shared model options: a vector near
    /// PyTorch's fp32 one, but not equal to it. Also with oneDNN held to the instruction sets of
    /// CPUs without VNNI (AVX-512 without VNNI, AVX2, SSE4.1), whose int8 multiply saturates
    /// 16-bit sums unless the weights stay within 7 bits: before they did, those vectors were off
    /// by 0.2.
    @Test(arguments: ["", "AVX512_CORE", "AVX2", "SSE41"])
    func embedInInt8(isa: String) throws {
        let golden = try CLIFixtures.modelGoldens()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let input = try directory.file("query.txt", golden.lists[0][0] + "\n")
        let result = try CLI.run(["embed", "--model", CLIFixtures.tinyModel, "--precision", "int8", "--input", input.path],
                                 environment: isa.isEmpty ? [:] : ["ONEDNN_MAX_CPU_ISA": isa])
        try #require(result.status == 0, "\(result)")
        let vector = try decode([Float].self, try #require(result.stdoutLines.first))
        #expect(close(vector, golden.pooled[0], tolerance: 0.05), "\(isa): \(vector) vs \(golden.pooled[0])")
        #expect(vector != golden.pooled[0])
    }

    /// Real text in int8 on the kernels of CPUs without VNNI (oneDNN held to AVX2 and to SSE4.1,
    /// 127 activation levels there): m3e-small's vectors of the embedding test corpus keep a
    /// cosine of 0.999 to PyTorch's fp32 ones for every text, as the issue asks of every CPU
    /// (measured: lowest 0.99939; with the earlier 7-bit weights 0.99855). The same check with
    /// VNNI runs in-process (`Int8ProductTests`).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CI"] != nil
                   || FileManager.default.fileExists(atPath: CLIFixtures.m3eSmall), "run tools/fetch-test-models.sh"),
          arguments: ["AVX2", "SSE41"])
    func m3eSmallInt8KeepsCosineWithoutVNNI(isa: String) throws {
        struct Golden: Decodable { let sentences: [String]; let embeddings: [[Float]] }
        let data = try Data(contentsOf: URL(fileURLWithPath: CLIFixtures.path("embedding-goldens.json")))
        let golden = try JSONDecoder().decode([String: Golden].self, from: data)["m3e-small"].orThrow("no m3e-small goldens")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let input = try directory.file("texts.txt", golden.sentences.joined(separator: "\n") + "\n")
        let result = try CLI.run(["embed", "--model", CLIFixtures.m3eSmall, "--precision", "int8", "--input", input.path],
                                 environment: ["ONEDNN_MAX_CPU_ISA": isa])
        try #require(result.status == 0, "\(result)")
        let vectors = try result.stdoutLines.map { try decode([Float].self, $0) }
        try #require(vectors.count == golden.sentences.count, "\(vectors.count) vectors for \(golden.sentences.count) texts")
        let cosines = zip(vectors, golden.embeddings).map { a, b in
            let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let na = a.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let nb = b.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            return dot / (na * nb)
        }
        let worst = cosines.min() ?? 0
        print("m3e-small int8 under \(isa) vs PyTorch fp32: min cosine \(worst), mean \(cosines.reduce(0, +) / Double(cosines.count))")
        #expect(worst >= 0.999, "\(isa): lowest cosine \(worst), text \(cosines.firstIndex(of: worst) ?? -1)")
        #expect(worst < 1 - 1e-9, "int8 reproduced fp32 exactly: is it quantising?")
    }

    @Test func tokenizeGivesTransformersIds() throws {
        struct Line: Decodable { let ids: [Int]; let tokens: [String] }
        let wanted = ["Hello, World!", "我爱北京天安门", "ÅNGSTRÖM café naïve"]
        let goldens = try CLIFixtures.tokenizerGoldens()
        let expected = try wanted.map { text in try goldens.first { $0.text == text }.orThrow("\(text) not in the corpus").ids }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let input = try directory.file("lines.txt", wanted.joined(separator: "\n") + "\n")
        let result = try CLI.run(["tokenize", "--model", CLIFixtures.path("tokenizer/zh-lower"), "--input", input.path])
        try #require(result.status == 0, "\(result)")
        let lines = try result.stdoutLines.map { try decode(Line.self, $0) }
        #expect(lines.map(\.ids) == expected)
        #expect(lines.allSatisfy { $0.tokens.count == $0.ids.count && $0.tokens.first == "[CLS]" && $0.tokens.last == "[SEP]" })
    }

    @Test func tokenizeTruncatesToMaxLength() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let input = try directory.file("line.txt", "我爱北京天安门\n")
        let result = try CLI.run(["tokenize", "--model", CLIFixtures.tinyModel, "--max-length", "4", "--input", input.path])
        try #require(result.status == 0, "\(result)")
        struct Line: Decodable { let ids: [Int] }
        #expect(try decode(Line.self, try #require(result.stdoutLines.first)).ids.count == 4)
    }
}
