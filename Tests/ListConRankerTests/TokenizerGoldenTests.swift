import Foundation
import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

/// The corpus encoded by the Swift tokenizer must give exactly the ids that transformers'
/// fast tokenizer gave (tools/reference/make_tokenizer_goldens.py), line by line, for each kind of
/// model directory: vocab.txt or tokenizer.json, lower-cased or not, Chinese or English vocabulary.
@Suite("Tokenizer goldens")
struct TokenizerGoldenTests {
    static let corpus: [String] = {
        guard let text = try? String(contentsOf: Fixtures.url("tokenizer/corpus.jsonl"), encoding: .utf8) else { return [] }
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().compactMap { line in
            try? JSONSerialization.jsonObject(with: Data(line.utf8), options: .fragmentsAllowed) as? String
        }
    }()

    static func goldens(_ name: String) throws -> [[Int32]] {
        let text = try String(contentsOf: Fixtures.url("tokenizer/\(name).ids"), encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode([Int32].self, from: Data($0.utf8)) }
    }

    /// A scratch model directory: `files` copied in, and `tokenizerConfig` as tokenizer_config.json.
    static func scratchDirectory(copying files: [URL], tokenizerConfig: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tokenizer-golden-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for file in files {
            try FileManager.default.copyItem(at: file, to: directory.appendingPathComponent(file.lastPathComponent))
        }
        try Data(tokenizerConfig.utf8).write(to: directory.appendingPathComponent("tokenizer_config.json"))
        return directory
    }

    static let lowerConfig = #"{"tokenizer_class": "BertTokenizer", "do_lower_case": true}"#
    static let casedConfig = #"{"tokenizer_class": "BertTokenizer", "do_lower_case": false}"#

    func expectGoldens(directory: URL, golden: String) throws {
        let corpus = Self.corpus
        let expected = try Self.goldens(golden)
        #expect(corpus.count >= 2000)
        try #require(corpus.count == expected.count, "corpus and \(golden).ids differ in length")
        let tokenizer = try BertTokenizer(directory: directory)
        var mismatches: [String] = []
        for (index, text) in corpus.enumerated() {
            let ids = tokenizer.encode(text, maxLength: 512).ids
            if ids != expected[index] {
                mismatches.append("line \(index + 1) \(text.debugDescription.prefix(120)): got \(ids.prefix(40)) expected \(expected[index].prefix(40))")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(corpus.count) lines differ:\n\(mismatches.prefix(8).joined(separator: "\n"))")
    }

    @Test("Chinese vocab.txt, do_lower_case true (ListConRanker's setting)")
    func chineseVocabularyLowercased() throws {
        try expectGoldens(directory: Fixtures.url("tokenizer/zh-lower"), golden: "zh-lower")
    }

    @Test("Chinese vocab.txt, do_lower_case false")
    func chineseVocabularyCased() throws {
        let directory = try Self.scratchDirectory(
            copying: [Fixtures.url("tokenizer/zh-lower/vocab.txt")], tokenizerConfig: Self.casedConfig)
        defer { try? FileManager.default.removeItem(at: directory) }
        try expectGoldens(directory: directory, golden: "zh-cased")
    }

    @Test("m3e-small as downloaded: tokenizer.json, do_lower_case false",
          .enabled(if: Fixtures.realModelTestsRun("m3e-small"), "run tools/fetch-test-models.sh"))
    func m3eSmall() throws {
        try expectGoldens(directory: try #require(Fixtures.downloadedModel("m3e-small")), golden: "zh-cased")
    }

    @Test("m3e-small's tokenizer.json with do_lower_case true in tokenizer_config.json",
          .enabled(if: Fixtures.realModelTestsRun("m3e-small"), "run tools/fetch-test-models.sh"))
    func m3eSmallTokenizerJSONLowercased() throws {
        let model = try #require(Fixtures.downloadedModel("m3e-small"))
        let directory = try Self.scratchDirectory(
            copying: [model.appendingPathComponent("tokenizer.json")], tokenizerConfig: Self.lowerConfig)
        defer { try? FileManager.default.removeItem(at: directory) }
        try expectGoldens(directory: directory, golden: "zh-lower")
    }

    @Test("all-MiniLM-L6-v2 as downloaded (tokenizer.json preferred over vocab.txt)",
          .enabled(if: Fixtures.realModelTestsRun("all-MiniLM-L6-v2"), "run tools/fetch-test-models.sh"))
    func miniLM() throws {
        try expectGoldens(directory: try #require(Fixtures.downloadedModel("all-MiniLM-L6-v2")), golden: "en-lower")
    }

    @Test("all-MiniLM-L6-v2's vocab.txt alone",
          .enabled(if: Fixtures.realModelTestsRun("all-MiniLM-L6-v2"), "run tools/fetch-test-models.sh"))
    func miniLMVocabularyText() throws {
        let model = try #require(Fixtures.downloadedModel("all-MiniLM-L6-v2"))
        let directory = try Self.scratchDirectory(
            copying: [model.appendingPathComponent("vocab.txt")], tokenizerConfig: Self.lowerConfig)
        defer { try? FileManager.default.removeItem(at: directory) }
        try expectGoldens(directory: directory, golden: "en-lower")
    }
}
