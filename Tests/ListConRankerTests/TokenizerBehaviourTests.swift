import Foundation
import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

/// Edge cases of encoding, loading and bad input, on small hand-made vocabularies.
@Suite("Tokenizer behaviour")
struct TokenizerBehaviourTests {
    static let tinyTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "a", "##a",
                             "hello", "world", ",", "!", "cafe", "我", "们", "ab", "##b"]

    static func tinyVocabulary() -> [String: Int32] {
        Dictionary(uniqueKeysWithValues: tinyTokens.enumerated().map { ($1, Int32($0)) })
    }

    static func tiny(_ configuration: BertTokenizerConfiguration = .init()) throws -> BertTokenizer {
        try BertTokenizer(vocabulary: tinyVocabulary(), configuration: configuration)
    }

    static func scratchDirectory(_ files: [String: String]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tokenizer-behaviour-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, contents) in files {
            try Data(contents.utf8).write(to: directory.appendingPathComponent(name))
        }
        return directory
    }

    @Test func emptyAndBlankTextGiveClsSep() throws {
        let tokenizer = try Self.tiny()
        for text in ["", "   ", "\t\n\u{3000}", "\u{200D}\u{0000}"] {
            let encoded = tokenizer.encode(text)
            #expect(encoded.ids == [2, 3])
            #expect(encoded.tokens == ["[CLS]", "[SEP]"])
            #expect(encoded.attentionMask == [1, 1])
        }
    }

    @Test func greedyLongestMatchWithContinuations() throws {
        let tokenizer = try Self.tiny()
        #expect(tokenizer.tokenize("unaffable") == ["un", "##aff", "##able"])
        #expect(tokenizer.tokenize("Hello, WORLD!") == ["hello", ",", "world", "!"])
        #expect(tokenizer.tokenize("Café 我们") == ["cafe", "我", "们"])
        // "ab" is matched before "a" + "##b": longest first.
        #expect(tokenizer.tokenize("abab") == ["ab", "##a", "##b"])
    }

    @Test func wordWithoutFullDecompositionIsOneUnknown() throws {
        let tokenizer = try Self.tiny()
        // "un" matches, "##x…" never does: the whole word is one [UNK], not "un" + [UNK].
        #expect(tokenizer.tokenize("unxyz hello") == ["[UNK]", "hello"])
    }

    @Test func wordsOverOneHundredScalarsAreUnknown() throws {
        let tokenizer = try Self.tiny()
        let hundred = String(repeating: "a", count: 100)
        #expect(tokenizer.tokenize(hundred) == ["a"] + Array(repeating: "##a", count: 99))
        #expect(tokenizer.tokenize(hundred + "a") == ["[UNK]"])
        // Scalars are counted after normalization: an accent stripped away does not count.
        #expect(tokenizer.tokenize(String(repeating: "a\u{301}", count: 100)).count == 100)
    }

    @Test func specialTokensInTextAreNeverSplitOrLowercased() throws {
        let tokenizer = try Self.tiny()
        #expect(tokenizer.tokenize("a[MASK]b") == ["a", "[MASK]", "[UNK]"])
        #expect(tokenizer.encode("[CLS] hello [SEP]").ids == [2, 2, 10, 3, 3])
        // Lower-case "[mask]" is ordinary text: "[", "mask", "]", none of them in this vocabulary.
        #expect(tokenizer.tokenize("[mask]") == ["[UNK]", "[UNK]", "[UNK]"])
    }

    @Test func truncationKeepsTheFirstPieces() throws {
        let tokenizer = try Self.tiny()
        let text = String(repeating: "hello world ", count: 40)
        let full = tokenizer.tokenize(text)
        #expect(full.count == 80)
        let encoded = tokenizer.encode(text, maxLength: 7)
        #expect(encoded.ids.count == 7)
        #expect(encoded.tokens == ["[CLS]"] + full.prefix(5) + ["[SEP]"])
        #expect(tokenizer.encode(text, maxLength: 512).ids.count == 82)
        #expect(tokenizer.encode(text, maxLength: 1).ids == [2, 3])
    }

    @Test func batchEncodingPadsToTheLongest() throws {
        let tokenizer = try Self.tiny()
        let batch = tokenizer.encode(batch: ["hello world", "", "unaffable , hello"], maxLength: 512, padToLongest: true)
        // The longest: [CLS] un ##aff ##able , hello [SEP].
        #expect(batch.map(\.ids.count) == [7, 7, 7])
        #expect(batch[1].ids == [2, 3, 0, 0, 0, 0, 0])
        #expect(batch[1].attentionMask == [1, 1, 0, 0, 0, 0, 0])
        #expect(batch[0].tokens.suffix(4) == ["[SEP]", "[PAD]", "[PAD]", "[PAD]"])
        #expect(batch[0].realTokenCount == 4)
        #expect(batch[2] == tokenizer.encode("unaffable , hello"))
        #expect(tokenizer.encode(batch: ["hello world", ""], maxLength: 512).map(\.ids.count) == [4, 2])
    }

    @Test func vocabularyTextIsReadAsTheRustCrateReadsIt() throws {
        // Trailing whitespace (including U+2028 and \r) is trimmed; a repeated token keeps its last id.
        let data = Data("[PAD]\n[UNK]\nab \nab\nx\r\ny\u{2028}\n\u{2028}\n".utf8)
        let vocabulary = try BertTokenizer.parseVocabularyText(data, path: "vocab.txt")
        #expect(vocabulary == ["[PAD]": 0, "[UNK]": 1, "ab": 3, "x": 4, "y": 5, "": 6])
        #expect(throws: TokenizerError.invalidUTF8(path: "vocab.txt", line: 2)) {
            try BertTokenizer.parseVocabularyText(Data([0x61, 0x0A, 0xC3, 0x28, 0x0A]), path: "vocab.txt")
        }
    }

    static let tinyVocabularyText = tinyTokens.joined(separator: "\n") + "\n"

    /// A tokenizer.json whose vocabulary gives "hello" id 7 (vocab.txt gives 10) and whose normalizer
    /// does not lower-case.
    static let tinyTokenizerJSON = """
        {"version": "1.0", "added_tokens": [{"id": 9, "content": "<foo>", "special": false, "normalized": false}],
         "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                        "strip_accents": null, "lowercase": false},
         "pre_tokenizer": {"type": "BertPreTokenizer"},
         "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                   "max_input_chars_per_word": 100,
                   "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "Hello": 5, "h": 6,
                             "hello": 7, "##ello": 8}}}
        """

    @Test func tokenizerJSONIsPreferredAndBertClassSettingsWin() throws {
        // transformers 5 takes the vocabulary from tokenizer.json but rebuilds BertTokenizer's
        // normalizer from tokenizer_config.json (do_lower_case defaults to true).
        let bertClass = try Self.scratchDirectory([
            "vocab.txt": Self.tinyVocabularyText, "tokenizer.json": Self.tinyTokenizerJSON,
            "tokenizer_config.json": #"{"tokenizer_class": "BertTokenizer"}"#,
        ])
        defer { try? FileManager.default.removeItem(at: bertClass) }
        let tokenizer = try BertTokenizer(directory: bertClass)
        #expect(tokenizer.encode("Hello<foo>").ids == [2, 7, 9, 3])
        #expect(tokenizer.vocabularySize == 9)

        // Without a tokenizer class, tokenizer.json is used as written: no lower-casing.
        let plain = try Self.scratchDirectory(["tokenizer.json": Self.tinyTokenizerJSON])
        defer { try? FileManager.default.removeItem(at: plain) }
        #expect(try BertTokenizer(directory: plain).encode("Hello").ids == [2, 5, 3])
    }

    @Test func vocabularyTextWithConfiguration() throws {
        let directory = try Self.scratchDirectory([
            "vocab.txt": Self.tinyVocabularyText,
            "tokenizer_config.json": #"{"do_lower_case": false, "strip_accents": true}"#,
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokenizer = try BertTokenizer(directory: directory)
        #expect(!tokenizer.configuration.lowercase && tokenizer.configuration.stripsAccents)
        #expect(tokenizer.tokenize("café Hello") == ["cafe", "[UNK]"])
        #expect(tokenizer.vocabularySize == Self.tinyTokens.count)
        #expect([tokenizer.clsID, tokenizer.sepID, tokenizer.padID, tokenizer.unkID] == [2, 3, 0, 1])
    }

    @Test func loadingErrorsNameTheProblem() throws {
        let empty = try Self.scratchDirectory([:])
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect(throws: TokenizerError.missingVocabulary(directory: empty.path)) { try BertTokenizer(directory: empty) }

        let badJSON = try Self.scratchDirectory(["vocab.txt": Self.tinyVocabularyText, "tokenizer_config.json": "{nope"])
        defer { try? FileManager.default.removeItem(at: badJSON) }
        do {
            _ = try BertTokenizer(directory: badJSON)
            Issue.record("malformed tokenizer_config.json was accepted")
        } catch let error as TokenizerError {
            #expect(error.description.contains("tokenizer_config.json"))
        }

        let noUnknown = try Self.scratchDirectory(["vocab.txt": "[CLS]\n[SEP]\n[PAD]\nhello\n"])
        defer { try? FileManager.default.removeItem(at: noUnknown) }
        #expect(throws: TokenizerError.missingSpecialToken(role: "unknown", token: "[UNK]")) {
            try BertTokenizer(directory: noUnknown)
        }
    }

    @Test func inputLinesReportInvalidUTF8WithTheLineNumber() throws {
        let bytes = Array("first\nsecond\n".utf8) + [0x74, 0xFF, 0x0A] + Array("fourth".utf8)
        #expect(throws: TokenizerError.invalidUTF8(path: "in.txt", line: 3)) { try TextLines.split(bytes, source: "in.txt") }
        #expect(try TextLines.split(Array("a\n\nb\n".utf8), source: "x") == ["a", "", "b"])
        #expect(TokenizerError.invalidUTF8(path: "in.txt", line: 3).description == "in.txt:3: not valid UTF-8")
    }

    @Test func jsonLineEscapesTokens() throws {
        let text = TokenizedText(ids: [1, 2], tokens: ["a\"b\\", "\u{1}é"], attentionMask: [1, 1])
        #expect(text.jsonLine == #"{"ids": [1, 2], "tokens": ["a\"b\\", "\u0001é"]}"#)
        let parsed = try JSONSerialization.jsonObject(with: Data(text.jsonLine.utf8)) as? [String: Any]
        #expect(parsed?["tokens"] as? [String] == text.tokens)
    }

    @Test func longLinesTakeLinearTime() throws {
        let tokenizer = try BertTokenizer(directory: Fixtures.url("tokenizer/zh-lower"))
        let unit = "ListConRanker 重新排序 café, naïve 123 https://example.com/a?b=c 😀 "
        func seconds(bytes: Int) -> Double {
            let text = String(repeating: unit, count: bytes / unit.utf8.count)
            // The fastest of three runs: noise on a shared machine only ever adds time.
            return (0..<3).map { _ in
                let start = ContinuousClock.now
                let pieces = tokenizer.tokenize(text)
                precondition(!pieces.isEmpty)
                let elapsed = ContinuousClock.now - start
                return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            }.min() ?? .infinity
        }
        let small = seconds(bytes: 200_000)
        let large = seconds(bytes: 2_000_000)
        #expect(large / small < 30, "2 MB took \(large) s, 200 KB took \(small) s")
        // A 2 MB line also encodes (truncated) without trouble.
        #expect(tokenizer.encode(String(repeating: unit, count: 2_000_000 / unit.utf8.count)).ids.count == 512)
    }
}
