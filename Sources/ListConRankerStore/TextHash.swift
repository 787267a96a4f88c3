/// The hash of a passage's text, opaque to the stores.
///
/// The indexing rule (``FeatureStore/upsertChanged(_:encode:)``) hashes the UTF-8 text with
/// SHA-256 (``sha256(of:)``, 32 bytes); the stores only keep the bytes and hand them back, so an
/// indexer can compare them and skip texts that have not changed.
public struct TextHash: Hashable, Sendable, CustomStringConvertible {
    /// The hash's bytes, as the caller gave them.
    public let bytes: [UInt8]

    /// The most bytes a hash may have; far above any common digest (SHA-512 is 64).
    public static let maximumByteCount = 64

    /// A hash from its bytes (typically the 32 bytes of SHA-256).
    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// A hash from lower- or upper-case hexadecimal, or nil when `hex` is not an even number of hex digits.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = Self.nibble(digits[index]), let low = Self.nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self.bytes = bytes
    }

    /// Lower-case hexadecimal, as `sha256sum` prints it.
    public var hex: String {
        let alphabet = Array("0123456789abcdef".utf8)
        var characters: [UInt8] = []
        characters.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            characters.append(alphabet[Int(byte >> 4)])
            characters.append(alphabet[Int(byte & 0x0F)])
        }
        return String(decoding: characters, as: UTF8.self)
    }

    public var description: String { hex }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return character - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
