import Foundation
import Testing
@testable import ListConRankerTokenizer

/// The inputs that made a libFuzzer harness (tools/fuzz) fail, replayed through the same entry
/// point as the harness, each with the outcome its fix guarantees. The inputs are stored byte for
/// byte under Fixtures/fuzz/HARNESS/, so `tools/fuzz/run.sh HARNESS -- FILE` replays one too.
@Suite struct FuzzRegressionTests {
    /// The files one `tokenizer-files` input carries, in order, separated by NUL bytes.
    static let tokenizerFiles = ["tokenizer_config.json", "tokenizer.json", "config.json",
                                 "special_tokens_map.json", "vocab.txt"]

    /// Writes a `tokenizer-files` input as the harness does: an empty or missing part is an
    /// absent file.
    static func modelDirectory(fromFuzzInput name: String) throws -> URL {
        let input = try [UInt8](Data(contentsOf: Fixtures.url("fuzz/tokenizer-files/\(name)")))
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("fuzz-regression-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let parts = input.split(separator: 0, maxSplits: tokenizerFiles.count - 1, omittingEmptySubsequences: false)
        for (file, part) in zip(tokenizerFiles, parts) where !part.isEmpty {
            try Data(part).write(to: directory.appendingPathComponent(file))
        }
        return directory
    }

    /// `tokenizer.json` giving `[CLS]` the id -2: loading succeeded and the first encode trapped
    /// indexing the id → token table at -2. Now refused when loading.
    @Test func negativeTokenIDIsRefused() throws {
        let directory = try Self.modelDirectory(fromFuzzInput: "negative-cls-id")
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(throws: TokenizerError.tokenIDOutOfRange(token: "[CLS]", id: -2, limit: 1024)) {
            try BertTokenizer(directory: directory)
        }
    }

    /// `tokenizer.json` giving one token the id 2,147,483,647: loading tried to allocate a 32 GB
    /// id → token table (AddressSanitizer: out of memory). Now refused before allocating.
    @Test func tokenIDFarPastTheVocabularyIsRefused() throws {
        let directory = try Self.modelDirectory(fromFuzzInput: "id-near-int32-max")
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(throws: TokenizerError.tokenIDOutOfRange(token: "hello", id: 2_147_483_647, limit: 1024)) {
            try BertTokenizer(directory: directory)
        }
    }

    /// The bound itself: ids up to twice the entries (at least 1,024) load, with gaps allowed;
    /// one past it is refused, for vocabulary and added tokens alike.
    @Test func tokenIDLimitAdmitsGapsUpToTwiceTheEntries() throws {
        var vocabulary: [String: Int32] = ["[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3]
        for index in 4..<700 { vocabulary["t\(index)"] = Int32(index) }
        vocabulary["last"] = 1_399  // 701 entries: limit 1,402; a gap from 700 to 1,398.
        let tokenizer = try BertTokenizer(vocabulary: vocabulary)
        #expect(tokenizer.token(forID: 1_399) == "last")
        #expect(tokenizer.encode("last").ids == [2, 1_399, 3])

        vocabulary["last"] = 1_402
        #expect(throws: TokenizerError.tokenIDOutOfRange(token: "last", id: 1_402, limit: 1_402)) {
            try BertTokenizer(vocabulary: vocabulary)
        }
        vocabulary["last"] = 5
        var configuration = BertTokenizerConfiguration()
        configuration.addedTokens = ["<x>": -1]
        #expect(throws: TokenizerError.tokenIDOutOfRange(token: "<x>", id: -1, limit: 1_404)) {
            try BertTokenizer(vocabulary: vocabulary, configuration: configuration)
        }
    }
}
