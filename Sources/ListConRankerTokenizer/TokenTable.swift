/// An immutable hash table from UTF-8 byte strings to token ids, looked up by byte slices so that
/// WordPiece can probe every candidate piece of a word without building a `String` for each.
struct TokenTable: Sendable {
    /// All keys' bytes, back to back.
    private let bytes: [UInt8]
    /// `bytes[keyStarts[i]..<keyStarts[i + 1]]` is key `i`.
    private let keyStarts: [Int32]
    private let ids: [Int32]
    /// Open addressing, linear probing: an index into `ids`, or -1 for an empty slot.
    private let slots: [Int32]
    private let slotMask: Int
    /// The longest key, in bytes: no longer slice can match.
    let longestKey: Int

    /// A table of `entries`; a key given twice keeps its last id.
    init(_ entries: [(key: [UInt8], id: Int32)]) {
        var lastIndex: [[UInt8]: Int] = [:]
        for (index, entry) in entries.enumerated() { lastIndex[entry.key] = index }
        var bytes: [UInt8] = []
        var keyStarts: [Int32] = [0]
        var ids: [Int32] = []
        var longestKey = 0
        for (index, entry) in entries.enumerated() where lastIndex[entry.key] == index {
            bytes.append(contentsOf: entry.key)
            keyStarts.append(Int32(bytes.count))
            ids.append(entry.id)
            longestKey = max(longestKey, entry.key.count)
        }
        var capacity = 16
        while capacity < ids.count * 2 { capacity *= 2 }
        var slots = [Int32](repeating: -1, count: capacity)
        bytes.withUnsafeBufferPointer { buffer in
            for index in ids.indices {
                let start = Int(keyStarts[index]), end = Int(keyStarts[index + 1])
                var slot = Int(truncatingIfNeeded: TokenTable.hash(buffer, start, end)) & (capacity - 1)
                while slots[slot] >= 0 { slot = (slot + 1) & (capacity - 1) }
                slots[slot] = Int32(index)
            }
        }
        self.bytes = bytes
        self.keyStarts = keyStarts
        self.ids = ids
        self.slots = slots
        self.slotMask = capacity - 1
        self.longestKey = longestKey
    }

    /// Number of distinct keys.
    var count: Int { ids.count }

    /// FNV-1a over `buffer[start..<end]`: keys are short, so a byte-at-a-time hash is cheap enough.
    @inline(__always)
    static func hash(_ buffer: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        var position = start
        while position < end {
            hash = (hash ^ UInt64(buffer[position])) &* 0x100_0000_01b3
            position += 1
        }
        return hash ^ (hash >> 29)
    }

    /// The id of the key equal to `buffer[start..<end]`, or nil.
    @inline(__always)
    func id(_ buffer: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int32? {
        let length = end - start
        if length > longestKey { return nil }
        var slot = Int(truncatingIfNeeded: TokenTable.hash(buffer, start, end)) & slotMask
        return bytes.withUnsafeBufferPointer { keyBytes in
            while true {
                let index = Int(slots[slot])
                if index < 0 { return nil }
                let keyStart = Int(keyStarts[index])
                if Int(keyStarts[index + 1]) - keyStart == length {
                    var equal = true
                    var offset = 0
                    while offset < length {
                        if keyBytes[keyStart + offset] != buffer[start + offset] { equal = false; break }
                        offset += 1
                    }
                    if equal { return ids[index] }
                }
                slot = (slot + 1) & slotMask
            }
        }
    }

    /// The id of `key`, or nil.
    func id(_ key: String) -> Int32? {
        let utf8 = Array(key.utf8)
        return utf8.withUnsafeBufferPointer { id($0, 0, $0.count) }
    }
}
