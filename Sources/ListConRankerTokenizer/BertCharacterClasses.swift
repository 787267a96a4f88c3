/// Per-scalar facts the BERT normalizer and pre-tokenizer need, as bit flags.
struct BertCharacterFlags: OptionSet, Sendable {
    let rawValue: UInt8

    /// Text cleaning drops it (control, format, private use, NUL, U+FFFD).
    static let removed = BertCharacterFlags(rawValue: 1 << 0)
    /// Text cleaning turns it into a space.
    static let cleanWhitespace = BertCharacterFlags(rawValue: 1 << 1)
    /// A CJK ideograph that becomes a word of its own.
    static let chinese = BertCharacterFlags(rawValue: 1 << 2)
    /// The pre-tokenizer isolates it as punctuation.
    static let punctuation = BertCharacterFlags(rawValue: 1 << 3)
    /// The pre-tokenizer splits on it and drops it.
    static let splitWhitespace = BertCharacterFlags(rawValue: 1 << 4)
    /// Accent stripping changes it.
    static let changedByStripping = BertCharacterFlags(rawValue: 1 << 5)
    /// Lower-casing changes it.
    static let changedByLowercasing = BertCharacterFlags(rawValue: 1 << 6)
}

/// Looks scalars up in ``BertUnicodeTables``: a dense table for the Basic Multilingual Plane
/// (built once, 64 KiB) and binary searches above it, where text is rare.
enum BertCharacterClasses {
    private static let rangeTables: [(ranges: [UInt32], flag: BertCharacterFlags)] = [
        (BertUnicodeTables.removedRanges, .removed),
        (BertUnicodeTables.cleanWhitespaceRanges, .cleanWhitespace),
        (BertUnicodeTables.chineseRanges, .chinese),
        (BertUnicodeTables.punctuationRanges, .punctuation),
        (BertUnicodeTables.splitWhitespaceRanges, .splitWhitespace),
    ]

    /// Flags of every scalar below U+10000 (surrogate slots stay empty).
    static let basicPlaneFlags: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 0x10000)
        for (ranges, flag) in rangeTables {
            var index = 0
            while index + 1 < ranges.count {
                let first = ranges[index], last = ranges[index + 1]
                if first < 0x10000 {
                    for scalar in first...min(last, 0xFFFF) { table[Int(scalar)] |= flag.rawValue }
                }
                index += 2
            }
        }
        for key in BertUnicodeTables.stripKeys where key < 0x10000 {
            table[Int(key)] |= BertCharacterFlags.changedByStripping.rawValue
        }
        for scalar in hangulFirst...hangulLast {
            table[Int(scalar)] |= BertCharacterFlags.changedByStripping.rawValue
        }
        for key in BertUnicodeTables.lowerKeys where key < 0x10000 {
            table[Int(key)] |= BertCharacterFlags.changedByLowercasing.rawValue
        }
        return table
    }()

    /// The flags of `scalar`.
    @inline(__always)
    static func flags(_ scalar: UInt32) -> BertCharacterFlags {
        if scalar < 0x10000 {
            return BertCharacterFlags(rawValue: basicPlaneFlags[Int(scalar)])
        }
        return supplementaryFlags(scalar)
    }

    private static func supplementaryFlags(_ scalar: UInt32) -> BertCharacterFlags {
        var flags: BertCharacterFlags = []
        for (ranges, flag) in rangeTables where rangesContain(ranges, scalar) {
            flags.insert(flag)
        }
        if keyIndex(BertUnicodeTables.stripKeys, scalar) != nil { flags.insert(.changedByStripping) }
        if keyIndex(BertUnicodeTables.lowerKeys, scalar) != nil { flags.insert(.changedByLowercasing) }
        return flags
    }

    /// Whether `scalar` lies in one of the inclusive `[first, last]` pairs of `ranges` (ascending).
    static func rangesContain(_ ranges: [UInt32], _ scalar: UInt32) -> Bool {
        var low = 0, high = ranges.count / 2
        while low < high {
            let middle = (low + high) / 2
            if ranges[2 * middle + 1] < scalar {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return low < ranges.count / 2 && ranges[2 * low] <= scalar
    }

    private static func keyIndex(_ keys: [UInt32], _ scalar: UInt32) -> Int? {
        var low = 0, high = keys.count
        while low < high {
            let middle = (low + high) / 2
            if keys[middle] < scalar { low = middle + 1 } else { high = middle }
        }
        return low < keys.count && keys[low] == scalar ? low : nil
    }

    static let hangulFirst: UInt32 = 0xAC00
    static let hangulLast: UInt32 = 0xD7A3

    /// Calls `body` with what accent stripping makes of `scalar` (NFD, nonspacing marks dropped):
    /// nothing, one or several scalars. Only valid when `flags(scalar)` has `.changedByStripping`.
    @inline(__always)
    static func forEachStripped(_ scalar: UInt32, _ body: (UInt32) -> Void) {
        if scalar >= hangulFirst && scalar <= hangulLast {
            // Hangul syllables decompose arithmetically into leading, vowel and trailing jamo.
            let index = scalar - hangulFirst
            body(0x1100 + index / 588)
            body(0x1161 + (index % 588) / 28)
            if index % 28 != 0 { body(0x11A7 + index % 28) }
            return
        }
        guard let index = keyIndex(BertUnicodeTables.stripKeys, scalar) else { body(scalar); return }
        let start = Int(BertUnicodeTables.stripStarts[index]), end = Int(BertUnicodeTables.stripStarts[index + 1])
        for position in start..<end { body(BertUnicodeTables.stripValues[position]) }
    }

    /// Calls `body` with the lower-case form of `scalar` (usually one scalar; U+0130 gives two).
    /// Only valid when `flags(scalar)` has `.changedByLowercasing`.
    @inline(__always)
    static func forEachLowercased(_ scalar: UInt32, _ body: (UInt32) -> Void) {
        guard let index = keyIndex(BertUnicodeTables.lowerKeys, scalar) else { body(scalar); return }
        let start = Int(BertUnicodeTables.lowerStarts[index]), end = Int(BertUnicodeTables.lowerStarts[index + 1])
        for position in start..<end { body(BertUnicodeTables.lowerValues[position]) }
    }
}
