import Foundation
import ListConRankerDigest

extension TextHash {
    /// The SHA-256 of a text's UTF-8 bytes: what ``FeatureStore/upsertChanged(_:encode:)`` keeps
    /// to tell a changed text, and what `sha256sum` prints for the same bytes.
    public static func sha256(of text: String) -> TextHash {
        var hasher = SHA256()
        hasher.update(Data(text.utf8))
        // finalizeHex gives 64 hex digits, which always parse.
        return TextHash(hex: hasher.finalizeHex()) ?? TextHash(bytes: [])
    }
}
