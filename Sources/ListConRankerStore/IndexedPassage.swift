import Foundation

/// A passage to index: the caller's id and its text.
public struct IndexedPassage: Sendable, Equatable, Decodable {
    /// The caller's passage id (non-empty).
    public var id: String
    /// The passage's text (not blank).
    public var text: String

    /// A passage to index.
    public init(id: String, text: String) {
        self.id = id
        self.text = text
    }
}

extension IndexedPassage {
    /// The passages with each id's last occurrence only, in first-seen order of the ids, and how
    /// many earlier occurrences were dropped: a later line for an id replaces an earlier one.
    public static func lastOfEachID(_ passages: [IndexedPassage]) -> (passages: [IndexedPassage], duplicates: Int) {
        var lastIndexOfID = [String: Int]()
        for (i, passage) in passages.enumerated() { lastIndexOfID[passage.id] = i }
        let unique = passages.indices.filter { lastIndexOfID[passages[$0].id] == $0 }.map { passages[$0] }
        return (unique, passages.count - unique.count)
    }
}

/// What indexing did.
public struct IndexReport: Sendable, Equatable, Encodable {
    /// Passages encoded and written (new ids, or ids whose text changed).
    public var indexed = 0
    /// Passages skipped because the store already holds their id with the same text.
    public var unchanged = 0
    /// Earlier occurrences of an id that comes again in the same input (the last one wins).
    public var duplicates = 0

    /// A report.
    public init(indexed: Int = 0, unchanged: Int = 0, duplicates: Int = 0) {
        self.indexed = indexed
        self.unchanged = unchanged
        self.duplicates = duplicates
    }
}

extension FeatureStore {
    /// The one indexing rule, for the CLI and the service alike: of `passages` (one per id), those
    /// whose id is new or whose text hash (``TextHash/sha256(of:)``) changed are encoded by
    /// `encode` and written in one transaction; the others are left as they are. Returns the
    /// counts (no duplicates here).
    ///
    /// `encode` is whatever turns texts into the vectors this store was opened for (a
    /// `Reranker`'s pooled encoder vectors, in `ListConRankerStoredPassages` and the service): the
    /// store itself knows no model.
    public func upsertChanged(_ passages: [IndexedPassage],
                              encode: ([String]) async throws -> [[Float]]) async throws -> IndexReport {
        let hashes = passages.map { TextHash.sha256(of: $0.text) }
        let stored = try await textHashes(for: passages.map(\.id))
        let changed = passages.indices.filter { stored[passages[$0].id] != hashes[$0] }
        if !changed.isEmpty {
            let vectors = try await encode(changed.map { passages[$0].text })
            try await upsert(zip(changed, vectors).map { FeatureEntry(id: passages[$0].id, textHash: hashes[$0], vector: $1) })
        }
        return IndexReport(indexed: changed.count, unchanged: passages.count - changed.count)
    }
}
