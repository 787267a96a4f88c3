/// Validates a batch for ``FeatureStore/upsert(_:)`` and encodes its vectors, the same way for both backends.
struct EncodedEntry {
    var id: String
    var textHash: [UInt8]
    var vectorBytes: [UInt8]
}

enum EntryBatch {
    /// The batch's entries, validated and encoded, with a later entry for an id replacing an earlier one
    /// (PostgreSQL's `ON CONFLICT` refuses to touch a row twice in one statement, so duplicates go here).
    static func encode(_ entries: [FeatureEntry], dimension: Int, precision: VectorPrecision) throws -> [EncodedEntry] {
        var positionOfID: [String: Int] = [:]
        positionOfID.reserveCapacity(entries.count)
        var encoded: [EncodedEntry] = []
        encoded.reserveCapacity(entries.count)
        for entry in entries {
            try validate(entry, dimension: dimension)
            let item = EncodedEntry(
                id: entry.id, textHash: entry.textHash.bytes,
                vectorBytes: VectorCodec.encode(entry.vector, precision: precision))
            if let position = positionOfID[entry.id] {
                encoded[position] = item
            } else {
                positionOfID[entry.id] = encoded.count
                encoded.append(item)
            }
        }
        return encoded
    }

    /// Ids without repeats, in first-seen order: look-ups and deletes need each id once.
    static func unique(_ ids: [String]) -> [String] {
        var seen = Set<String>()
        seen.reserveCapacity(ids.count)
        return ids.filter { seen.insert($0).inserted }
    }

    private static func validate(_ entry: FeatureEntry, dimension: Int) throws {
        if entry.id.isEmpty {
            throw FeatureStoreError.invalidEntry(id: entry.id, reason: "the id is empty")
        }
        if entry.id.utf8.contains(0) {
            // PostgreSQL's text cannot hold NUL; refuse it in both backends so they accept the same ids.
            throw FeatureStoreError.invalidEntry(id: entry.id, reason: "the id contains a NUL character")
        }
        if entry.textHash.bytes.isEmpty || entry.textHash.bytes.count > TextHash.maximumByteCount {
            throw FeatureStoreError.invalidEntry(
                id: entry.id,
                reason: "the text hash has \(entry.textHash.bytes.count) bytes; 1...\(TextHash.maximumByteCount) are allowed")
        }
        if entry.vector.count != dimension {
            throw FeatureStoreError.invalidEntry(
                id: entry.id, reason: "the vector has \(entry.vector.count) elements; the store's dimension is \(dimension)")
        }
        if let index = entry.vector.firstIndex(where: { !$0.isFinite }) {
            throw FeatureStoreError.invalidEntry(
                id: entry.id, reason: "element \(index) is \(entry.vector[index]); an encoder vector is finite")
        }
    }
}
