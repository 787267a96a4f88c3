/// Finds added tokens (`[CLS]`, `[MASK]`, …) in raw text before normalization, as the reference's
/// added vocabulary does for tokens marked `normalized: false`: leftmost match first, the longest
/// token among those starting there, never split and never lower-cased.
struct AddedTokenMatcher: Sendable {
    /// Tokens as UTF-8, longest first so that the first hit at a position is the longest.
    private let tokens: [(bytes: [UInt8], id: Int32)]
    /// Whether some token starts with this byte: lets the scan skip ordinary text quickly.
    private let isFirstByte: [Bool]

    init(_ tokens: [(content: String, id: Int32)]) {
        let encoded = tokens.map { (bytes: Array($0.content.utf8), id: $0.id) }.filter { !$0.bytes.isEmpty }
        self.tokens = encoded.sorted { $0.bytes.count > $1.bytes.count }
        var isFirstByte = [Bool](repeating: false, count: 256)
        for token in encoded { isFirstByte[Int(token.bytes[0])] = true }
        self.isFirstByte = isFirstByte
    }

    /// The first added token in `text[from..<end]`: where it starts, where it ends, and its id.
    @inline(__always)
    func firstMatch(in text: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> (start: Int, end: Int, id: Int32)? {
        if tokens.isEmpty { return nil }
        var position = start
        while position < end {
            if isFirstByte[Int(text[position])] {
                for token in tokens where token.bytes.count <= end - position {
                    var offset = 1
                    while offset < token.bytes.count && token.bytes[offset] == text[position + offset] { offset += 1 }
                    if offset == token.bytes.count && token.bytes[0] == text[position] {
                        return (position, position + offset, token.id)
                    }
                }
            }
            position += 1
        }
        return nil
    }
}
