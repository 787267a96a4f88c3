import Foundation
import Logging
import PostgresNIO

/// A ``FeatureStore`` in PostgreSQL (PostgresNIO), shared by replicas behind a load balancer.
///
/// One database holds any number of encoder identities: `listconranker_feature_stores` has a row per
/// identity (its dimension, precision and schema version) and `listconranker_features` keys every
/// vector by that row's `store_id` and the passage id, so two encoders' vectors are never mixed
/// and a new model can be indexed beside the one in service. Vectors are `bytea`, little-endian.
///
/// ``open(url:configuration:maximumConnections:logger:)`` connects once to create or check the
/// identity's row. After that, connections open on demand: when the server goes away a call throws
/// ``FeatureStoreError/unavailable(location:reason:)`` (a server answers 503) and the next call
/// connects again, so the store recovers by itself when PostgreSQL is back.
public final class PostgresFeatureStore: FeatureStore {
    /// The layout version this code writes and the newest it reads.
    public static let schemaVersion = 1

    /// Rows per `INSERT` statement: a batch larger than this is split, inside one transaction,
    /// so that no single message to the server carries hundreds of megabytes.
    static let rowsPerStatement = 2_000

    public let location: String
    public let storeDescription: StoreDescription
    /// This identity's key in `listconranker_feature_stores`.
    private let storeID: Int32
    private let pool: PostgresConnectionPool

    private init(location: String, storeDescription: StoreDescription, storeID: Int32, pool: PostgresConnectionPool) {
        self.location = location
        self.storeDescription = storeDescription
        self.storeID = storeID
        self.pool = pool
    }

    /// Connects to the database at `url`, creates the tables if needed, and binds to `configuration`'s identity.
    ///
    /// - Parameters:
    ///   - url: `postgres://user:password@host:port/database` (`postgresql://` also; `?sslmode=disable|prefer|require`).
    ///   - maximumConnections: Connections this store opens at most; concurrent calls beyond it wait for one.
    ///   - statementTimeout: The longest one statement may run on the server (`statement_timeout`);
    ///     a longer one is cancelled and reported as ``FeatureStoreError/unavailable(location:reason:)``.
    /// - Throws: ``FeatureStoreError/unavailable(location:reason:)`` when the server cannot be reached,
    ///   ``FeatureStoreError/encoderMismatch(location:stored:storedDimension:requested:requestedDimension:)``
    ///   when the identity is stored with another dimension, ``FeatureStoreError/invalidLocation(_:reason:)`` for a bad URL.
    public static func open(
        url: String,
        configuration: FeatureStoreConfiguration,
        maximumConnections: Int = 4,
        statementTimeout: Duration = .seconds(30),
        logger: Logger = Logger(label: "listconranker.store.postgres")
    ) async throws -> PostgresFeatureStore {
        try configuration.validate()
        let settings = try PostgresSettings(url: url)
        let location = settings.redacted
        let connectionConfiguration: PostgresConnection.Configuration
        do {
            connectionConfiguration = try settings.connectionConfiguration(connectTimeout: .seconds(5))
        } catch {
            throw FeatureStoreError.invalidLocation(location, reason: "TLS set-up failed: \(error)")
        }
        let pool = PostgresConnectionPool(
            configuration: connectionConfiguration, location: location,
            maximumConnections: maximumConnections, statementTimeout: statementTimeout, logger: logger)
        do {
            let (storeID, stored) = try await pool.withConnection { connection in
                try await Self.prepare(connection, configuration: configuration, logger: logger)
            }
            try configuration.checkCompatible(with: stored, location: location, supportedSchema: schemaVersion)
            return PostgresFeatureStore(location: location, storeDescription: stored, storeID: storeID, pool: pool)
        } catch {
            await pool.close()
            throw error
        }
    }

    public func upsert(_ entries: [FeatureEntry]) async throws {
        let encoded = try EntryBatch.encode(entries, dimension: storeDescription.dimension, precision: storeDescription.precision)
        if encoded.isEmpty { return }
        let storeID = storeID
        let statements = stride(from: 0, to: encoded.count, by: Self.rowsPerStatement).map {
            Self.insertQuery(storeID: storeID, encoded[$0..<min($0 + Self.rowsPerStatement, encoded.count)])
        }
        try await pool.withConnection { connection in
            let logger = connection.logger
            if statements.count == 1 {
                // One statement is one transaction already.
                try await connection.query(statements[0], logger: logger)
                return
            }
            try await connection.query("BEGIN", logger: logger)
            do {
                for statement in statements {
                    try await connection.query(statement, logger: logger)
                }
                try await connection.query("COMMIT", logger: logger)
            } catch {
                // If the connection is gone the server rolls back by itself; otherwise do it here
                // so the connection goes back to the pool outside any transaction.
                if !connection.isClosed { _ = try? await connection.query("ROLLBACK", logger: logger) }
                throw error
            }
        }
    }

    public func vectors(for ids: [String]) async throws -> [String: StoredVector] {
        let ids = EntryBatch.unique(ids)
        if ids.isEmpty { return [:] }
        let storeID = storeID
        let dimension = storeDescription.dimension
        let precision = storeDescription.precision
        let location = location
        return try await pool.withConnection { connection in
            // One statement: one snapshot, so the answer never shows half of a batch.
            let rows = try await connection.query(
                "SELECT id, text_hash, vector FROM listconranker_features WHERE store_id = \(storeID) AND id = ANY(\(ids)::text[])",
                logger: connection.logger)
            var found: [String: StoredVector] = [:]
            found.reserveCapacity(ids.count)
            for try await (id, hash, vector) in rows.decode((String, ByteBuffer, ByteBuffer).self) {
                let decoded = vector.withUnsafeReadableBytes {
                    VectorCodec.decode($0, dimension: dimension, precision: precision)
                }
                guard let decoded else {
                    throw FeatureStoreError.corruptEntry(
                        location: location, id: id,
                        reason: "its vector has \(vector.readableBytes) bytes; \(dimension) \(precision) elements take \(dimension * precision.bytesPerElement)")
                }
                found[id] = StoredVector(textHash: TextHash(bytes: Array(hash.readableBytesView)), vector: decoded)
            }
            return found
        }
    }

    public func textHashes(for ids: [String]) async throws -> [String: TextHash] {
        let ids = EntryBatch.unique(ids)
        if ids.isEmpty { return [:] }
        let storeID = storeID
        return try await pool.withConnection { connection in
            let rows = try await connection.query(
                "SELECT id, text_hash FROM listconranker_features WHERE store_id = \(storeID) AND id = ANY(\(ids)::text[])",
                logger: connection.logger)
            var found: [String: TextHash] = [:]
            for try await (id, hash) in rows.decode((String, ByteBuffer).self) {
                found[id] = TextHash(bytes: Array(hash.readableBytesView))
            }
            return found
        }
    }

    @discardableResult
    public func delete(ids: [String]) async throws -> Int {
        let ids = EntryBatch.unique(ids)
        if ids.isEmpty { return 0 }
        let storeID = storeID
        return try await pool.withConnection { connection in
            let rows = try await connection.query(
                """
                WITH removed AS (
                    DELETE FROM listconranker_features WHERE store_id = \(storeID) AND id = ANY(\(ids)::text[]) RETURNING 1
                ) SELECT count(*) FROM removed
                """,
                logger: connection.logger)
            return try await Self.singleInt(rows)
        }
    }

    public func count() async throws -> Int {
        let storeID = storeID
        return try await pool.withConnection { connection in
            let rows = try await connection.query(
                "SELECT count(*) FROM listconranker_features WHERE store_id = \(storeID)", logger: connection.logger)
            return try await Self.singleInt(rows)
        }
    }

    public func integrityCheck() async throws -> IntegrityReport {
        let storeID = storeID
        let vectorBytes = Int32(storeDescription.dimension * storeDescription.precision.bytesPerElement)
        let identity = storeDescription.encoderIdentity
        return try await pool.withConnection { connection in
            let logger = connection.logger
            // REPEATABLE READ: the counts and the listed ids describe one snapshot.
            try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            do {
                let total = try await Self.singleInt(connection.query(
                    "SELECT count(*) FROM listconranker_features WHERE store_id = \(storeID)", logger: logger))
                let malformedCount = try await Self.singleInt(connection.query(
                    """
                    SELECT count(*) FROM listconranker_features WHERE store_id = \(storeID)
                    AND (octet_length(vector) <> \(vectorBytes) OR octet_length(text_hash) = 0)
                    """, logger: logger))
                var malformed: [String] = []
                let rows = try await connection.query(
                    """
                    SELECT id FROM listconranker_features WHERE store_id = \(storeID)
                    AND (octet_length(vector) <> \(vectorBytes) OR octet_length(text_hash) = 0)
                    ORDER BY id LIMIT \(Int64(IntegrityReport.maximumListed))
                    """, logger: logger)
                for try await id in rows.decode(String.self) { malformed.append(id) }
                var problems: [String] = []
                let meta = try await Self.singleInt(connection.query(
                    "SELECT count(*) FROM listconranker_feature_stores WHERE store_id = \(storeID) AND encoder_identity = \(identity)",
                    logger: logger))
                if meta != 1 {
                    problems.append("the row for encoder identity \(identity) in listconranker_feature_stores is gone")
                }
                try await connection.query("COMMIT", logger: logger)
                return IntegrityReport(
                    entryCount: total, malformedIDs: malformed, malformedCount: malformedCount, engineProblems: problems)
            } catch {
                if !connection.isClosed { _ = try? await connection.query("ROLLBACK", logger: logger) }
                throw error
            }
        }
    }

    public func storageBytes() async throws -> Int {
        let storeID = storeID
        return try await pool.withConnection { connection in
            // The table (with TOAST and indexes) is shared by every identity: this identity's share by row count.
            let rows = try await connection.query(
                """
                SELECT pg_total_relation_size('listconranker_features')::float8
                     * (SELECT count(*) FROM listconranker_features WHERE store_id = \(storeID))::float8
                     / greatest((SELECT count(*) FROM listconranker_features), 1)::float8
                """, logger: connection.logger)
            for try await size in rows.decode(Double.self) { return Int(size) }
            return 0
        }
    }

    public func close() async throws {
        await pool.close()
    }

    /// Removes this identity's vectors and its row, for retiring an encoder; the store is closed afterwards.
    public func dropIdentity() async throws {
        let storeID = storeID
        try await pool.withConnection { connection in
            // The foreign key cascades to the identity's vectors, in one statement.
            _ = try await connection.query(
                "DELETE FROM listconranker_feature_stores WHERE store_id = \(storeID)", logger: connection.logger)
        }
        await pool.close()
    }
}

// MARK: - Schema and queries

extension PostgresFeatureStore {
    /// Creates the tables if missing and the identity's row if missing, then reads that row back.
    private static func prepare(
        _ connection: PostgresConnection, configuration: FeatureStoreConfiguration, logger: Logger
    ) async throws -> (Int32, StoreDescription) {
        let identity = configuration.encoderIdentity
        let dimension = Int32(configuration.dimension)
        let precision = (configuration.precision ?? .fp32).rawValue
        let version = Int32(schemaVersion)
        try await connection.query("BEGIN", logger: logger)
        do {
            // Replicas starting together would race on CREATE TABLE IF NOT EXISTS (it is not atomic
            // in PostgreSQL); the transaction-scoped lock makes them take turns.
            try await connection.query("SELECT pg_advisory_xact_lock(\(Int64(0x4C43_5246_5354)))", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS listconranker_feature_stores (
                    store_id serial PRIMARY KEY,
                    encoder_identity text NOT NULL UNIQUE,
                    dimension integer NOT NULL CHECK (dimension > 0),
                    precision text NOT NULL,
                    schema_version integer NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now()
                )
                """, logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS listconranker_features (
                    store_id integer NOT NULL REFERENCES listconranker_feature_stores (store_id) ON DELETE CASCADE,
                    id text NOT NULL,
                    text_hash bytea NOT NULL,
                    vector bytea NOT NULL,
                    PRIMARY KEY (store_id, id)
                )
                """, logger: logger)
            // Float bits do not compress: skip pglz's attempt on every row, keep large values out of line.
            try await connection.query(
                "ALTER TABLE listconranker_features ALTER COLUMN vector SET STORAGE EXTERNAL", logger: logger)
            try await connection.query(
                """
                INSERT INTO listconranker_feature_stores (encoder_identity, dimension, precision, schema_version)
                VALUES (\(identity), \(dimension), \(precision), \(version))
                ON CONFLICT (encoder_identity) DO NOTHING
                """, logger: logger)
            let rows = try await connection.query(
                """
                SELECT store_id, dimension, precision, schema_version FROM listconranker_feature_stores
                WHERE encoder_identity = \(identity)
                """, logger: logger)
            var result: (Int32, StoreDescription)?
            for try await (storeID, storedDimension, storedPrecision, storedVersion) in rows.decode((Int32, Int32, String, Int32).self) {
                guard let parsed = VectorPrecision(rawValue: storedPrecision) else {
                    throw FeatureStoreError.notAFeatureStore(
                        location: "listconranker_feature_stores", reason: "unknown precision \"\(storedPrecision)\" for \(identity)")
                }
                result = (storeID, StoreDescription(
                    encoderIdentity: identity, dimension: Int(storedDimension), precision: parsed, schemaVersion: Int(storedVersion)))
            }
            try await connection.query("COMMIT", logger: logger)
            guard let result else {
                throw FeatureStoreError.notAFeatureStore(
                    location: "listconranker_feature_stores", reason: "the row for \(identity) vanished while it was created")
            }
            return result
        } catch {
            if !connection.isClosed { _ = try? await connection.query("ROLLBACK", logger: logger) }
            throw error
        }
    }

    /// One multi-row upsert: the ids, hashes and vectors travel as three arrays that `unnest` zips.
    private static func insertQuery(storeID: Int32, _ entries: ArraySlice<EncodedEntry>) -> PostgresQuery {
        let ids = entries.map(\.id)
        let hashes = entries.map { ByteBuffer(bytes: $0.textHash) }
        let vectors = entries.map { ByteBuffer(bytes: $0.vectorBytes) }
        return """
            INSERT INTO listconranker_features (store_id, id, text_hash, vector)
            SELECT \(storeID), u.id, u.text_hash, u.vector
            FROM unnest(\(ids)::text[], \(hashes)::bytea[], \(vectors)::bytea[]) AS u (id, text_hash, vector)
            ON CONFLICT (store_id, id) DO UPDATE SET text_hash = EXCLUDED.text_hash, vector = EXCLUDED.vector
            """
    }

    private static func singleInt(_ rows: PostgresRowSequence) async throws -> Int {
        for try await value in rows.decode(Int64.self) { return Int(value) }
        return 0
    }
}
