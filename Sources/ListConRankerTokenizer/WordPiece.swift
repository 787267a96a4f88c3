/// WordPiece as Hugging Face's `tokenizers` does it: greedy longest match first from the start of
/// the word, later pieces looked up with the continuation prefix (`##`); a word longer than
/// `maxInputCharactersPerWord` scalars, or one with no full decomposition, becomes one unknown token.
struct WordPiece: Sendable {
    /// Every vocabulary entry, for the first piece of a word.
    let wholeTokens: TokenTable
    /// Entries that start with the continuation prefix, keyed without it, for later pieces.
    let continuationTokens: TokenTable
    let unknownID: Int32
    let maxInputCharactersPerWord: Int

    init(vocabulary: [String: Int32], continuingSubwordPrefix: String, unknownID: Int32, maxInputCharactersPerWord: Int) {
        // Sorted by id so that the table's layout does not depend on dictionary order.
        let entries = vocabulary.sorted { $0.value < $1.value }
        wholeTokens = TokenTable(entries.map { (Array($0.key.utf8), $0.value) })
        let prefix = Array(continuingSubwordPrefix.utf8)
        continuationTokens = TokenTable(entries.compactMap { entry in
            let bytes = Array(entry.key.utf8)
            guard bytes.count >= prefix.count, bytes[0..<prefix.count].elementsEqual(prefix) else { return nil }
            return (Array(bytes[prefix.count...]), entry.value)
        })
        self.unknownID = unknownID
        self.maxInputCharactersPerWord = maxInputCharactersPerWord
    }

    /// Appends the ids of `word` (normalized UTF-8 of `scalarCount` scalars) to `ids`.
    @inline(__always)
    func appendPieces(of word: UnsafeBufferPointer<UInt8>, scalarCount: Int, to ids: inout [Int32]) {
        if scalarCount > maxInputCharactersPerWord {
            ids.append(unknownID)
            return
        }
        let firstPiece = ids.count
        let length = word.count
        var start = 0
        while start < length {
            let table = start == 0 ? wholeTokens : continuationTokens
            // Nothing longer than the table's longest key can match, so start probing there.
            var end = min(length, start + table.longestKey)
            while end < length && WordPiece.isContinuationByte(word[end]) { end -= 1 }
            var found: Int32?
            while end > start {
                if let id = table.id(word, start, end) {
                    found = id
                    break
                }
                end -= 1
                while end > start && WordPiece.isContinuationByte(word[end]) { end -= 1 }
            }
            guard let id = found else {
                ids.removeSubrange(firstPiece...)
                ids.append(unknownID)
                return
            }
            ids.append(id)
            start = end
        }
    }

    @inline(__always)
    static func isContinuationByte(_ byte: UInt8) -> Bool { byte & 0xC0 == 0x80 }
}
