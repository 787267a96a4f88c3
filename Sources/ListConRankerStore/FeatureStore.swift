/// A persistent map from passage id to (text hash, encoder vector) for one encoder identity.
///
/// DESIGN.md §9: a passage is encoded once; its mean-pooled encoder vector is kept here and looked
/// up on every later request. Implementations: ``SQLiteFeatureStore`` (one file, one machine) and
/// ``PostgresFeatureStore`` (shared by replicas). Open either through ``FeatureStoreLocation``.
///
/// Every write is one transaction: a concurrent reader sees a batch whole or not at all.
public protocol FeatureStore: Sendable {
    /// Where the store lives, for messages (a file path, or a PostgreSQL URL without its password).
    var location: String { get }

    /// The identity, dimension and precision the store is bound to.
    var storeDescription: StoreDescription { get }

    /// Inserts or replaces `entries` in one transaction.
    ///
    /// Within a batch a later entry for the same id wins. Throws ``FeatureStoreError/invalidEntry(id:reason:)``
    /// (writing nothing) for an empty id, an empty or over-long text hash, a vector of the wrong
    /// length, or a non-finite element.
    func upsert(_ entries: [FeatureEntry]) async throws

    /// The entries held for `ids`; ids the store does not hold are absent from the result.
    ///
    /// All ids are read in one read transaction, so the result never mixes two states of a batch.
    func vectors(for ids: [String]) async throws -> [String: StoredVector]

    /// The text hashes held for `ids` (without reading vectors), so an indexer can skip unchanged texts.
    func textHashes(for ids: [String]) async throws -> [String: TextHash]

    /// Removes the entries for `ids` in one transaction; returns how many existed.
    @discardableResult
    func delete(ids: [String]) async throws -> Int

    /// How many entries the store holds.
    func count() async throws -> Int

    /// Checks every entry's vector length and text hash, and the engine's own consistency.
    func integrityCheck() async throws -> IntegrityReport

    /// Bytes the store takes on disk (SQLite: the file and its WAL; PostgreSQL: this identity's share
    /// estimated from the table's total size), for capacity planning and benchmarks.
    func storageBytes() async throws -> Int

    /// Releases the file or connection; later calls throw ``FeatureStoreError/closed(location:)``.
    func close() async throws
}

extension FeatureStore {
    /// The vectors for `ids`, in the same order, or ``FeatureStoreError/missingIDs(_:)`` naming every id not held.
    public func orderedVectors(for ids: [String]) async throws -> [StoredVector] {
        let found = try await vectors(for: ids)
        var ordered: [StoredVector] = []
        ordered.reserveCapacity(ids.count)
        var missing: [String] = []
        for id in ids {
            if let entry = found[id] { ordered.append(entry) } else { missing.append(id) }
        }
        if !missing.isEmpty { throw FeatureStoreError.missingIDs(missing) }
        return ordered
    }
}
