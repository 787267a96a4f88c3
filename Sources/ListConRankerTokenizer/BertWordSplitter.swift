/// Hugging Face's `BertNormalizer` and `BertPreTokenizer` fused into one pass over UTF-8 bytes:
/// clean the text, isolate CJK ideographs, strip accents, lower-case, then split into words on
/// whitespace and single punctuation characters.
///
/// The steps run per scalar in the reference's order (clean → CJK → strip → lower-case → split),
/// which is exact because every step maps one scalar to zero or more scalars independently of its
/// neighbours. (The one context-dependent step of NFD, canonical reordering of combining marks,
/// only matters for marks that survive stripping yet carry a non-zero combining class, in
/// non-canonical order; such text is not reproduced bit for bit.)
struct BertWordSplitter: Sendable {
    let cleanText: Bool
    let isolateChineseCharacters: Bool
    let stripAccents: Bool
    let lowercase: Bool

    /// What the fused pipeline does with each ASCII byte.
    private enum AsciiAction: UInt8 {
        case drop, split, punctuation, append
    }

    private let asciiActions: [AsciiAction]
    /// The ASCII byte after lower-casing (identity when not lower-casing).
    private let asciiMapped: [UInt8]

    init(cleanText: Bool, isolateChineseCharacters: Bool, stripAccents: Bool, lowercase: Bool) {
        self.cleanText = cleanText
        self.isolateChineseCharacters = isolateChineseCharacters
        self.stripAccents = stripAccents
        self.lowercase = lowercase
        var actions = [AsciiAction](repeating: .append, count: 128)
        var mapped = (0..<128).map { UInt8($0) }
        for byte in 0..<128 {
            let flags = BertCharacterClasses.flags(UInt32(byte))
            if cleanText && flags.contains(.removed) {
                actions[byte] = .drop
            } else if (cleanText && flags.contains(.cleanWhitespace)) || flags.contains(.splitWhitespace) {
                actions[byte] = .split
            } else if flags.contains(.punctuation) {
                actions[byte] = .punctuation
            }
            if lowercase && flags.contains(.changedByLowercasing) {
                // ASCII letters lower-case to ASCII letters, which are neither space nor punctuation.
                BertCharacterClasses.forEachLowercased(UInt32(byte)) { mapped[byte] = UInt8(truncatingIfNeeded: $0) }
            }
        }
        self.asciiActions = actions
        self.asciiMapped = mapped
    }

    /// Splits `text[start..<end]` (valid UTF-8) into words and calls `onWord` with each word's
    /// normalized UTF-8 bytes and its length in scalars. Returns false as soon as `onWord` does
    /// (the caller has enough), true otherwise. `word` is scratch space, reused across calls.
    @inline(__always)
    func split(
        _ text: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int,
        word: inout WordBuffer,
        onWord: (UnsafeBufferPointer<UInt8>, Int) -> Bool
    ) -> Bool {
        var position = start
        while position < end {
            let lead = text[position]
            if lead < 0x80 {
                position += 1
                switch asciiActions[Int(lead)] {
                case .append:
                    word.append(asciiMapped[Int(lead)])
                case .split:
                    if !word.flush(onWord) { return false }
                case .punctuation:
                    if !word.flush(onWord) { return false }
                    word.append(lead)
                    if !word.flush(onWord) { return false }
                case .drop:
                    break
                }
                continue
            }
            let scalar = BertWordSplitter.decode(text, &position)
            let flags = BertCharacterClasses.flags(scalar)
            if cleanText {
                if flags.contains(.removed) { continue }
                if flags.contains(.cleanWhitespace) {
                    if !word.flush(onWord) { return false }
                    continue
                }
            }
            if isolateChineseCharacters && flags.contains(.chinese) {
                // The reference surrounds the ideograph with spaces, so it is a word of its own.
                if !word.flush(onWord) { return false }
                if !normalize(scalar, flags, &word, onWord) { return false }
                if !word.flush(onWord) { return false }
                continue
            }
            if !normalize(scalar, flags, &word, onWord) { return false }
        }
        return word.flush(onWord)
    }

    /// Accent stripping then lower-casing of one scalar, each result fed to the word splitter.
    @inline(__always)
    private func normalize(
        _ scalar: UInt32, _ flags: BertCharacterFlags, _ word: inout WordBuffer,
        _ onWord: (UnsafeBufferPointer<UInt8>, Int) -> Bool
    ) -> Bool {
        if stripAccents && flags.contains(.changedByStripping) {
            var keepGoing = true
            BertCharacterClasses.forEachStripped(scalar) { stripped in
                if keepGoing { keepGoing = lowercaseAndSplit(stripped, BertCharacterClasses.flags(stripped), &word, onWord) }
            }
            return keepGoing
        }
        return lowercaseAndSplit(scalar, flags, &word, onWord)
    }

    @inline(__always)
    private func lowercaseAndSplit(
        _ scalar: UInt32, _ flags: BertCharacterFlags, _ word: inout WordBuffer,
        _ onWord: (UnsafeBufferPointer<UInt8>, Int) -> Bool
    ) -> Bool {
        if lowercase && flags.contains(.changedByLowercasing) {
            var keepGoing = true
            BertCharacterClasses.forEachLowercased(scalar) { lowered in
                if keepGoing { keepGoing = BertWordSplitter.splitOn(lowered, BertCharacterClasses.flags(lowered), &word, onWord) }
            }
            return keepGoing
        }
        return BertWordSplitter.splitOn(scalar, flags, &word, onWord)
    }

    /// The pre-tokenizer's view of one normalized scalar.
    @inline(__always)
    private static func splitOn(
        _ scalar: UInt32, _ flags: BertCharacterFlags, _ word: inout WordBuffer,
        _ onWord: (UnsafeBufferPointer<UInt8>, Int) -> Bool
    ) -> Bool {
        if flags.contains(.splitWhitespace) { return word.flush(onWord) }
        if flags.contains(.punctuation) {
            if !word.flush(onWord) { return false }
            word.append(scalar: scalar)
            return word.flush(onWord)
        }
        word.append(scalar: scalar)
        return true
    }

    /// Decodes the multi-byte scalar at `position` (valid UTF-8, lead byte ≥ 0x80) and moves past it.
    @inline(__always)
    static func decode(_ text: UnsafeBufferPointer<UInt8>, _ position: inout Int) -> UInt32 {
        let lead = UInt32(text[position])
        if lead < 0xE0 {
            let scalar = (lead & 0x1F) << 6 | UInt32(text[position + 1] & 0x3F)
            position += 2
            return scalar
        }
        if lead < 0xF0 {
            let scalar = (lead & 0x0F) << 12 | UInt32(text[position + 1] & 0x3F) << 6 | UInt32(text[position + 2] & 0x3F)
            position += 3
            return scalar
        }
        let scalar = (lead & 0x07) << 18 | UInt32(text[position + 1] & 0x3F) << 12
            | UInt32(text[position + 2] & 0x3F) << 6 | UInt32(text[position + 3] & 0x3F)
        position += 4
        return scalar
    }
}

/// The word being built: its normalized UTF-8 bytes and its length in scalars.
struct WordBuffer {
    private(set) var bytes: [UInt8] = []
    private(set) var scalarCount = 0

    init() { bytes.reserveCapacity(256) }

    @inline(__always)
    mutating func append(_ asciiByte: UInt8) {
        bytes.append(asciiByte)
        scalarCount += 1
    }

    @inline(__always)
    mutating func append(scalar: UInt32) {
        if scalar < 0x80 {
            bytes.append(UInt8(scalar))
        } else if scalar < 0x800 {
            bytes.append(UInt8(0xC0 | scalar >> 6))
            bytes.append(UInt8(0x80 | scalar & 0x3F))
        } else if scalar < 0x10000 {
            bytes.append(UInt8(0xE0 | scalar >> 12))
            bytes.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            bytes.append(UInt8(0x80 | scalar & 0x3F))
        } else {
            bytes.append(UInt8(0xF0 | scalar >> 18))
            bytes.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            bytes.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            bytes.append(UInt8(0x80 | scalar & 0x3F))
        }
        scalarCount += 1
    }

    /// Hands a non-empty word to `onWord` and empties the buffer; returns what `onWord` returned.
    @inline(__always)
    mutating func flush(_ onWord: (UnsafeBufferPointer<UInt8>, Int) -> Bool) -> Bool {
        if scalarCount == 0 { return true }
        let keepGoing = bytes.withUnsafeBufferPointer { onWord($0, scalarCount) }
        bytes.removeAll(keepingCapacity: true)
        scalarCount = 0
        return keepGoing
    }
}
