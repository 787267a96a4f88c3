import Foundation
import GRDB

/// A ``FeatureStore`` in one SQLite file (GRDB), for a single machine: zero set-up, WAL mode so
/// readers never wait for the writer and always see whole batches.
///
/// One file holds one encoder identity; opening it for another is refused with
/// ``FeatureStoreError/encoderMismatch(location:stored:storedDimension:requested:requestedDimension:)``.
/// Vectors are BLOBs of little-endian fp32 or bf16 elements.
public final class SQLiteFeatureStore: FeatureStore {
    /// The layout version this code writes and the newest it reads.
    public static let schemaVersion = 1

    public let location: String
    public let storeDescription: StoreDescription
    private let pool: DatabasePool
    private let state = ClosedFlag()

    /// Opens the store at `path`, creating the file (and its folder's entry) when it does not exist.
    ///
    /// - Throws: ``FeatureStoreError/encoderMismatch(location:stored:storedDimension:requested:requestedDimension:)``
    ///   when the file was written for another identity or dimension, ``FeatureStoreError/notAFeatureStore(location:reason:)``
    ///   for a file that is not one, ``FeatureStoreError/database(location:message:)`` when SQLite fails.
    public init(path: String, configuration: FeatureStoreConfiguration) throws {
        try configuration.validate()
        let pool: DatabasePool
        do {
            if Self.fileSize(path) == 0 {
                // SQLite treats a missing or empty file as a new database.
                try Self.create(path: path, configuration: configuration, precision: configuration.precision ?? .fp32)
            }
            var grdb = Configuration()
            // A writer from another process (an indexer) may hold the lock for a whole batch.
            grdb.busyMode = .timeout(10)
            grdb.prepareDatabase { db in
                // In WAL mode NORMAL loses at most the last commits on power loss, never consistency;
                // the vectors can always be recomputed, and FULL would fsync every batch.
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
            pool = try DatabasePool(path: path, configuration: grdb)
        } catch let error as DatabaseError {
            throw Self.mapped(error, location: path)
        }
        let stored: StoreDescription
        do {
            stored = try pool.read { db in try Self.readDescription(db, location: path) }
            try configuration.checkCompatible(with: stored, location: path, supportedSchema: Self.schemaVersion)
        } catch {
            try? pool.close()
            if let error = error as? DatabaseError { throw Self.mapped(error, location: path) }
            throw error
        }
        self.location = path
        self.pool = pool
        self.storeDescription = stored
    }

    public func upsert(_ entries: [FeatureEntry]) async throws {
        let encoded = try EntryBatch.encode(entries, dimension: storeDescription.dimension, precision: storeDescription.precision)
        if encoded.isEmpty { return }
        try await access {
            try await pool.write { db in
                let statement = try db.cachedStatement(sql: """
                    INSERT INTO listconranker_features (id, text_hash, vector) VALUES (?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET text_hash = excluded.text_hash, vector = excluded.vector
                    """)
                for entry in encoded {
                    try statement.execute(arguments: [entry.id, Data(entry.textHash), Data(entry.vectorBytes)])
                }
            }
        }
    }

    public func vectors(for ids: [String]) async throws -> [String: StoredVector] {
        let ids = EntryBatch.unique(ids)
        if ids.isEmpty { return [:] }
        let dimension = storeDescription.dimension
        let precision = storeDescription.precision
        let location = location
        return try await access {
            // One read transaction for all chunks: the answer is one snapshot of the store.
            try await pool.read { db in
                var found: [String: StoredVector] = [:]
                found.reserveCapacity(ids.count)
                for chunk in Self.chunks(ids) {
                    let rows = try Row.fetchCursor(
                        db, sql: "SELECT id, text_hash, vector FROM listconranker_features WHERE id IN (\(Self.placeholders(chunk.count)))",
                        arguments: StatementArguments(chunk))
                    while let row = try rows.next() {
                        let id: String = row[0]
                        let hash = try Self.textHash(row, atIndex: 1)
                        let (vector, size) = try row.withUnsafeData(atIndex: 2) { data -> ([Float]?, Int) in
                            guard let data else { return (nil, 0) }
                            return (data.withUnsafeBytes { VectorCodec.decode($0, dimension: dimension, precision: precision) }, data.count)
                        }
                        guard let vector else {
                            throw FeatureStoreError.corruptEntry(
                                location: location, id: id,
                                reason: "its vector has \(size) bytes; \(dimension) \(precision) elements take \(dimension * precision.bytesPerElement)")
                        }
                        found[id] = StoredVector(textHash: hash, vector: vector)
                    }
                }
                return found
            }
        }
    }

    public func textHashes(for ids: [String]) async throws -> [String: TextHash] {
        let ids = EntryBatch.unique(ids)
        if ids.isEmpty { return [:] }
        return try await access {
            try await pool.read { db in
                var found: [String: TextHash] = [:]
                for chunk in Self.chunks(ids) {
                    let rows = try Row.fetchCursor(
                        db, sql: "SELECT id, text_hash FROM listconranker_features WHERE id IN (\(Self.placeholders(chunk.count)))",
                        arguments: StatementArguments(chunk))
                    while let row = try rows.next() {
                        let id: String = row[0]
                        found[id] = try Self.textHash(row, atIndex: 1)
                    }
                }
                return found
            }
        }
    }

    @discardableResult
    public func delete(ids: [String]) async throws -> Int {
        let ids = EntryBatch.unique(ids)
        if ids.isEmpty { return 0 }
        return try await access {
            try await pool.write { db in
                var removed = 0
                for chunk in Self.chunks(ids) {
                    try db.execute(
                        sql: "DELETE FROM listconranker_features WHERE id IN (\(Self.placeholders(chunk.count)))",
                        arguments: StatementArguments(chunk))
                    removed += db.changesCount
                }
                return removed
            }
        }
    }

    public func count() async throws -> Int {
        try await access {
            try await pool.read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM listconranker_features") ?? 0
            }
        }
    }

    public func integrityCheck() async throws -> IntegrityReport {
        let vectorBytes = storeDescription.dimension * storeDescription.precision.bytesPerElement
        return try await access {
            try await pool.read { db in
                let engine = try String.fetchAll(db, sql: "PRAGMA integrity_check").filter { $0 != "ok" }
                let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM listconranker_features") ?? 0
                let malformedCondition = "typeof(vector) <> 'blob' OR length(vector) <> ? OR typeof(text_hash) <> 'blob' OR length(text_hash) = 0"
                let malformedCount = try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM listconranker_features WHERE \(malformedCondition)",
                    arguments: [vectorBytes]) ?? 0
                let malformed = try String.fetchAll(
                    db, sql: "SELECT id FROM listconranker_features WHERE \(malformedCondition) ORDER BY id LIMIT ?",
                    arguments: [vectorBytes, IntegrityReport.maximumListed])
                return IntegrityReport(
                    entryCount: total, malformedIDs: malformed, malformedCount: malformedCount, engineProblems: engine)
            }
        }
    }

    public func storageBytes() async throws -> Int {
        try state.check(location: location)
        return [location, location + "-wal", location + "-shm"].reduce(0) { $0 + Self.fileSize($1) }
    }

    public func close() async throws {
        guard state.close() else { return }
        do {
            try pool.close()
        } catch let error as DatabaseError {
            throw Self.mapped(error, location: location)
        }
    }
}

// MARK: - Creating and recognising the file

extension SQLiteFeatureStore {
    /// The size of the file at `path`, 0 when there is none.
    private static func fileSize(_ path: String) -> Int {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return 0 }
        return (attributes[.size] as? NSNumber)?.intValue ?? 0
    }

    /// Creates the tables in a new file, choosing the page size before anything is written
    /// (SQLite fixes it with the first page, and WAL mode forbids changing it later).
    private static func create(path: String, configuration: FeatureStoreConfiguration, precision: VectorPrecision) throws {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        let pageSize = pageSize(forVectorBytes: configuration.dimension * precision.bytesPerElement)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA page_size = \(pageSize)")
            // Persistent in the file: every later connection, ours or the sqlite3 shell's, uses WAL.
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.inTransaction {
                // IF NOT EXISTS and OR IGNORE: two processes creating the file at once both succeed,
                // and whichever inserted second then reads the first one's meta row and checks it.
                try db.execute(sql: """
                    CREATE TABLE IF NOT EXISTS listconranker_meta (
                        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                        schema_version INTEGER NOT NULL,
                        encoder_identity TEXT NOT NULL,
                        dimension INTEGER NOT NULL,
                        precision TEXT NOT NULL
                    );
                    CREATE TABLE IF NOT EXISTS listconranker_features (
                        id TEXT PRIMARY KEY NOT NULL,
                        text_hash BLOB NOT NULL,
                        vector BLOB NOT NULL
                    );
                    """)
                try db.execute(
                    sql: """
                        INSERT OR IGNORE INTO listconranker_meta (singleton, schema_version, encoder_identity, dimension, precision)
                        VALUES (1, ?, ?, ?, ?)
                        """,
                    arguments: [schemaVersion, configuration.encoderIdentity, configuration.dimension, precision.rawValue])
                return .commit
            }
        }
    }

    /// The smallest page size at which rows of `vectorBytes` fill pages at least 85 % (else the best fill).
    ///
    /// SQLite keeps whole rows per page: with 4 KiB pages a 2 KiB bf16 row of 1,024 elements takes
    /// a page of its own (half of the file wasted) and a 4 KiB fp32 row spills into overflow pages.
    static func pageSize(forVectorBytes vectorBytes: Int) -> Int {
        let rowBytes = vectorBytes + 120  // id, 32-byte hash, record and cell headers, cell pointer
        var best = (size: 4096, fill: 0.0)
        for size in [4096, 8192, 16384, 32768, 65536] {
            let usable = size - 100
            let rowsPerPage = usable / rowBytes
            let fill = Double(rowsPerPage * rowBytes) / Double(size)
            if fill >= 0.85 { return size }
            if fill > best.fill + 0.05 { best = (size, fill) }
        }
        return best.size
    }

    private static func readDescription(_ db: Database, location: String) throws -> StoreDescription {
        guard try db.tableExists("listconranker_meta"), try db.tableExists("listconranker_features") else {
            throw FeatureStoreError.notAFeatureStore(
                location: location, reason: "it has no listconranker_meta and listconranker_features tables")
        }
        guard let row = try Row.fetchOne(
            db, sql: "SELECT schema_version, encoder_identity, dimension, precision FROM listconranker_meta WHERE singleton = 1")
        else {
            throw FeatureStoreError.notAFeatureStore(location: location, reason: "its listconranker_meta table is empty")
        }
        let precisionName: String = row[3]
        guard let precision = VectorPrecision(rawValue: precisionName) else {
            throw FeatureStoreError.notAFeatureStore(location: location, reason: "unknown precision \"\(precisionName)\"")
        }
        return StoreDescription(encoderIdentity: row[1], dimension: row[2], precision: precision, schemaVersion: row[0])
    }
}

// MARK: - Helpers

extension SQLiteFeatureStore {
    /// Runs `body` unless the store is closed, turning SQLite's errors into ``FeatureStoreError``.
    private func access<T>(_ body: () async throws -> T) async throws -> T {
        try state.check(location: location)
        do {
            return try await body()
        } catch let error as DatabaseError {
            throw Self.mapped(error, location: location)
        }
    }

    private static func mapped(_ error: DatabaseError, location: String) -> FeatureStoreError {
        if error.resultCode == .SQLITE_NOTADB {
            return .notAFeatureStore(location: location, reason: "it is not an SQLite database")
        }
        return .database(location: location, message: error.description)
    }

    /// Ids in groups that stay far below SQLite's limit on bound parameters (32,766).
    private static func chunks(_ ids: [String]) -> [ArraySlice<String>] {
        let size = 500
        return stride(from: 0, to: ids.count, by: size).map { ids[$0..<min($0 + size, ids.count)] }
    }

    private static func textHash(_ row: Row, atIndex index: Int) throws -> TextHash {
        try row.withUnsafeData(atIndex: index) { TextHash(bytes: $0.map { [UInt8]($0) } ?? []) }
    }

    private static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ",")
    }
}

/// Whether ``SQLiteFeatureStore/close()`` has run; a lock because the store is used from many tasks.
private final class ClosedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var closed = false

    func check(location: String) throws {
        lock.lock()
        defer { lock.unlock() }
        if closed { throw FeatureStoreError.closed(location: location) }
    }

    /// Marks the store closed; false when it already was.
    func close() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if closed { return false }
        closed = true
        return true
    }
}
