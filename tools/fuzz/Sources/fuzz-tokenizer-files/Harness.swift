// A model directory's tokenizer files as BertTokenizer(directory:) reads them. One input carries
// five files separated by NUL bytes: tokenizer_config.json, tokenizer.json, config.json,
// special_tokens_map.json and vocab.txt (an empty or missing part: the file is absent). A
// tokenizer that loads must then encode text into ids it can name.
import Foundation
import FuzzSupport
import ListConRankerTokenizer

private let scratch = ScratchDirectory("tokenizer-files")
private let files = ["tokenizer_config.json", "tokenizer.json", "config.json", "special_tokens_map.json", "vocab.txt"]
private let sample = "Hello, World! naïve café 北京大学 [MASK] ﬁ e\u{301} \u{0}\u{7F}"

@main enum Harness {
    static func main() { runLibFuzzer { data, size in fuzz(data, size) } }
}

/// One input; returns 0 (libFuzzer's convention for "keep going").
private func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let parts = splitAtNUL(Array(UnsafeBufferPointer(start: data, count: size)), count: files.count)
    for (name, part) in zip(files, parts) {
        scratch.place(name, part.flatMap { $0.isEmpty ? nil : $0 })
    }
    let tokenizer: BertTokenizer
    do {
        tokenizer = try BertTokenizer(directory: scratch.url)
    } catch is TokenizerError {
        return 0
    } catch {
        invariantFailed("not a TokenizerError: \(error)")
    }
    let encoded = tokenizer.encode(sample, maxLength: 64)
    guard encoded.ids.count <= 64, encoded.ids.count == encoded.tokens.count,
          encoded.ids.count == encoded.attentionMask.count else {
        invariantFailed("encoding of the sample is malformed: \(encoded)")
    }
    for id in encoded.ids where tokenizer.token(forID: id) == nil {
        invariantFailed("id \(id) in the encoding names no token")
    }
    return 0
}
