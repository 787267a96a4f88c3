// The tokenizer on arbitrary text: the first byte picks the settings (lower-casing, accents,
// cleaning, CJK isolation, an added token, the length limit), the rest is the text when it
// decodes as UTF-8. Every encoding must be [CLS] … [SEP] within the limit, of ids the
// vocabulary names; libFuzzer's -timeout catches inputs whose time is not linear in their size.
import Foundation
import FuzzSupport
import ListConRankerTokenizer

/// The test fixtures' 10,000-entry BERT vocabulary (English and CJK pieces), found from this
/// file's path so that the harness runs from any directory.
private let vocabulary: [String: Int32] = {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../../Tests/ListConRankerTests/Fixtures/tiny-model/vocab.txt").standardized
    guard let text = try? String(contentsOf: path, encoding: .utf8) else {
        invariantFailed("cannot read the fixture vocabulary at \(path.path)")
    }
    var entries: [String: Int32] = [:]
    for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        entries[String(line)] = Int32(index)
    }
    return entries
}()

/// All 32 combinations of the settings, built once (building one costs far more than a run).
private let tokenizers: [BertTokenizer] = (0..<32).map { bits in
    var configuration = BertTokenizerConfiguration()
    configuration.lowercase = bits & 1 != 0
    configuration.stripAccents = [nil, true, false][(bits >> 1) % 3]
    configuration.cleanText = bits & 8 != 0
    configuration.isolateChineseCharacters = bits & 16 != 0
    if bits & 4 != 0 {
        // Added tokens are matched in the raw text before normalisation: a second path to fuzz.
        configuration.addedTokens = ["<extra>": 9_998, "[MASK]": 103, "ab c": 9_999]
    }
    do {
        return try BertTokenizer(vocabulary: vocabulary, configuration: configuration)
    } catch {
        invariantFailed("the fixture vocabulary does not make a tokenizer: \(error)")
    }
}

@main enum Harness {
    static func main() {
        // Build the 32 tokenizers before the first input: lazily, under ASan, they took over a
        // second and the first input was reported as a timeout.
        precondition(tokenizers.count == 32)
        runLibFuzzer { data, size in fuzz(data, size) }
    }
}

/// One input; returns 0 (libFuzzer's convention for "keep going").
private func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    guard size >= 1 else { return 0 }
    let settings = Int(data[0])
    guard let text = String(validating: UnsafeBufferPointer(start: data + 1, count: size - 1), as: UTF8.self) else {
        return 0
    }
    let tokenizer = tokenizers[settings % 32]
    let maxLength = [2, 8, 512, Int.max][settings >> 6]
    let encoded = tokenizer.encode(text, maxLength: maxLength)
    guard encoded.ids.first == tokenizer.clsID, encoded.ids.last == tokenizer.sepID, encoded.ids.count >= 2,
          encoded.ids.count <= maxLength, encoded.tokens.count == encoded.ids.count,
          encoded.attentionMask.allSatisfy({ $0 == 1 }), encoded.attentionMask.count == encoded.ids.count else {
        invariantFailed("malformed encoding (max length \(maxLength)): \(encoded.ids)")
    }
    for id in encoded.ids where tokenizer.token(forID: id) == nil {
        invariantFailed("id \(id) names no token")
    }
    // Without a limit, encode keeps every piece that tokenize returns.
    if maxLength == Int.max {
        let pieces = tokenizer.tokenize(text)
        guard pieces.count == encoded.ids.count - 2 else {
            invariantFailed("tokenize gave \(pieces.count) pieces, encode \(encoded.ids.count - 2)")
        }
    }
    return 0
}
