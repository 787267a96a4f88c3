/// One text encoded for the BERT encoder: `[CLS] word pieces [SEP]`, possibly padded.
public struct TokenizedText: Sendable, Equatable {
    /// Token ids, starting with `[CLS]` and ending with `[SEP]` (then `[PAD]`s when padded).
    public var ids: [Int32]
    /// The vocabulary entry of each id (`"[UNK]"` for unknown words).
    public var tokens: [String]
    /// 1 for a real token, 0 for padding.
    public var attentionMask: [Int32]

    /// A tokenized text from its parts; the three arrays have the same length.
    public init(ids: [Int32], tokens: [String], attentionMask: [Int32]) {
        self.ids = ids
        self.tokens = tokens
        self.attentionMask = attentionMask
    }

    /// The number of real (unpadded) tokens.
    public var realTokenCount: Int { attentionMask.reduce(0) { $0 + Int($1) } }

    /// `{"ids": [...], "tokens": [...]}` on one line, without a line break.
    public var jsonLine: String {
        var line = "{\"ids\": ["
        line += ids.map(String.init).joined(separator: ", ")
        line += "], \"tokens\": ["
        line += tokens.map(TokenizedText.jsonString).joined(separator: ", ")
        line += "]}"
        return line
    }

    /// `text` as a JSON string literal: quotes, backslashes and control characters escaped.
    static func jsonString(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x2028...0x2029).contains(scalar.value) {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
