import Foundation
import Logging
import PostgresNIO
import Testing
@testable import ListConRankerStore

/// Against a real PostgreSQL server (tools/ci/start-postgres.sh). Serialized: the outage test stops
/// the server, which no other test may be using at that moment.
@Suite("PostgreSQL feature store", .serialized, .enabled(if: PostgresTestEnvironment.shouldRun))
struct PostgresFeatureStoreTests {
    let dimension = 16

    func serverURL() throws -> String {
        try #require(PostgresTestEnvironment.url, Comment(rawValue: PostgresTestEnvironment.missingMessage))
    }

    func open(_ identity: String, dimension: Int? = nil, precision: VectorPrecision? = nil) async throws -> PostgresFeatureStore {
        try await PostgresFeatureStore.open(
            url: try serverURL(),
            configuration: FeatureStoreConfiguration(encoderIdentity: identity, dimension: dimension ?? self.dimension, precision: precision))
    }

    @Test func roundTripsUpsertsDeletesAndCounts() async throws {
        let store = try await open(uniqueIdentity("basics"), precision: .fp32)
        let entries = makeEntries(count: 250, dimension: dimension, seed: 21)
        try await store.upsert(entries)
        #expect(try await store.count() == 250)
        let found = try await store.vectors(for: entries.map(\.id) + ["absent"])
        #expect(found.count == 250)
        for entry in entries {
            #expect(found[entry.id]?.vector.map(\.bitPattern) == entry.vector.map(\.bitPattern))
            #expect(found[entry.id]?.textHash == entry.textHash)
        }

        let replacement = FeatureEntry(id: "p5", textHash: fakeHash("new"), vector: Array(repeating: 0.5, count: dimension))
        try await store.upsert([replacement, replacement])
        #expect(try await store.textHashes(for: ["p5", "p6", "absent"]) == ["p5": fakeHash("new"), "p6": entries[6].textHash])
        #expect(try await store.orderedVectors(for: ["p5"]).first?.vector == replacement.vector)

        #expect(try await store.delete(ids: ["p1", "p2", "p2", "absent"]) == 2)
        #expect(try await store.count() == 248)
        await #expect(throws: FeatureStoreError.missingIDs(["p1", "p2"])) {
            try await store.orderedVectors(for: ["p0", "p1", "p2", "p3"])
        }
        #expect(try await store.integrityCheck() == IntegrityReport(entryCount: 248, malformedIDs: [], malformedCount: 0, engineProblems: []))
        #expect(try await store.storageBytes() > 0)
        try await store.dropIdentity()
    }

    /// A statement that runs past the store's statement timeout is cancelled by the server and
    /// reported as unavailable at once; the pool then serves the next call on a fresh connection.
    @Test func aStatementPastTheTimeoutIsCancelled() async throws {
        let settings = try PostgresSettings(url: try serverURL())
        let pool = PostgresConnectionPool(configuration: try settings.connectionConfiguration(connectTimeout: .seconds(5)),
                                          location: settings.redacted, maximumConnections: 1,
                                          statementTimeout: .milliseconds(200), logger: Logger(label: "test"))
        let began = ContinuousClock.now
        do {
            try await pool.withConnection { connection in
                _ = try await connection.query("SELECT pg_sleep(3)", logger: Logger(label: "test")).collect()
            }
            Issue.record("pg_sleep(3) was not cancelled")
        } catch let error as FeatureStoreError {
            guard case .unavailable(_, let reason) = error else { Issue.record("\(error)"); return }
            #expect(reason.contains("statement timeout") && reason.contains("57014"), "\(reason)")
        }
        #expect(ContinuousClock.now - began < .seconds(2))
        let one = try await pool.withConnection { connection in
            try await connection.query("SELECT 1", logger: Logger(label: "test")).collect().first?.decode(Int.self)
        }
        #expect(one == 1)
        await pool.close()
    }

    @Test func bf16IsStoredRounded() async throws {
        let identity = uniqueIdentity("bf16")
        let store = try await open(identity, precision: .bf16)
        let entries = makeEntries(count: 40, dimension: dimension, seed: 22)
        try await store.upsert(entries)
        let ordered = try await store.orderedVectors(for: entries.map(\.id))
        #expect(ordered.map(\.vector) == entries.map { $0.vector.map(referenceBFloat16) })
        // A second opener without a precision adopts bf16; one asking for fp32 is refused.
        let reader = try await open(identity)
        #expect(reader.storeDescription.precision == .bf16)
        try await reader.close()
        await #expect(throws: FeatureStoreError.self) { try await open(identity, precision: .fp32) }
        try await store.dropIdentity()
    }

    @Test func identitiesShareTheDatabaseWithoutMixing() async throws {
        let a = try await open(uniqueIdentity("a"))
        let b = try await open(uniqueIdentity("b"))
        let entriesA = makeEntries(count: 5, dimension: dimension, seed: 23)
        let entriesB = makeEntries(count: 3, dimension: dimension, seed: 24)
        try await a.upsert(entriesA)
        try await b.upsert(entriesB)
        #expect(try await a.count() == 5)
        #expect(try await b.count() == 3)
        #expect(try await b.vectors(for: ["p0", "p4"]).mapValues(\.vector) == ["p0": entriesB[0].vector])
        #expect(try await b.delete(ids: ["p4"]) == 0)
        #expect(try await a.count() == 5)

        // The same identity with another dimension is another encoder: refused, naming both.
        do {
            _ = try await open(a.storeDescription.encoderIdentity, dimension: 32)
            Issue.record("an identity was opened with a second dimension")
        } catch let error as FeatureStoreError {
            guard case let .encoderMismatch(_, stored, storedDimension, requested, requestedDimension) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(stored == a.storeDescription.encoderIdentity && requested == stored)
            #expect(storedDimension == dimension && requestedDimension == 32)
        }
        try await a.dropIdentity()
        try await b.dropIdentity()
    }

    /// A batch larger than one INSERT statement runs in one transaction: a concurrent reader counts
    /// either none or all of each batch's new ids.
    @Test func aConcurrentReaderSeesWholeBatchesOnly() async throws {
        let identity = uniqueIdentity("batches")
        let writer = try await open(identity, dimension: 4)
        let reader = try await open(identity, dimension: 4)
        let batchSize = PostgresFeatureStore.rowsPerStatement * 2 + 500
        let batches = 6
        let allIDs = (0..<batches).flatMap { batch in (0..<batchSize).map { "b\(batch)-\($0)" } }
        let counts = try await withThrowingTaskGroup(of: [Int].self) { group in
            group.addTask {
                for batch in 0..<batches {
                    try await writer.upsert((0..<batchSize).map {
                        FeatureEntry(id: "b\(batch)-\($0)", textHash: fakeHash("x"), vector: [Float(batch), 0, 0, 0])
                    })
                }
                return []
            }
            group.addTask {
                var counts: [Int] = []
                repeat {
                    counts.append(try await reader.vectors(for: allIDs).count)
                } while counts.last != allIDs.count
                return counts
            }
            var all: [Int] = []
            for try await counts in group { all += counts }
            return all
        }
        for count in counts {
            #expect(count % batchSize == 0, "a read saw \(count) ids, not a whole number of batches of \(batchSize)")
        }
        try await reader.close()
        try await writer.dropIdentity()
    }

    /// The server stops while the store is in use: calls fail with `.unavailable` (no crash, no hang),
    /// and once it is back the next call reconnects and works.
    @Test(.enabled(if: PostgresTestEnvironment.shouldRunOutage))
    func anOutageIsUnavailableAndTheStoreRecovers() async throws {
        let stop = try #require(PostgresTestEnvironment.stopCommand, Comment(rawValue: PostgresTestEnvironment.missingOutageMessage))
        let start = try #require(PostgresTestEnvironment.startCommand, Comment(rawValue: PostgresTestEnvironment.missingOutageMessage))
        let store = try await open(uniqueIdentity("outage"))
        let entries = makeEntries(count: 10, dimension: dimension, seed: 25)
        try await store.upsert(entries)
        #expect(try await store.count() == 10)

        try runShell(stop)
        var restarted = false
        defer { if !restarted { try? runShell(start) } }
        for _ in 0..<2 {
            // First call: the pooled connection is found dead. Second: connecting is refused.
            do {
                _ = try await store.vectors(for: ["p1"])
                Issue.record("a look-up succeeded while the server was stopped")
            } catch let error as FeatureStoreError {
                guard case .unavailable = error else {
                    Issue.record("expected .unavailable, got \(error)")
                    continue
                }
            }
        }
        await #expect(throws: FeatureStoreError.self) { try await store.upsert(entries) }

        try runShell(start)
        restarted = true
        #expect(try await store.vectors(for: ["p1"])["p1"]?.vector == entries[1].vector)
        try await store.upsert([FeatureEntry(id: "after", textHash: fakeHash("after"), vector: entries[0].vector)])
        #expect(try await store.count() == 11)
        try await store.dropIdentity()
    }
}

/// Needs no server: nothing listens on port 1.
@Suite("PostgreSQL feature store without a server")
struct PostgresUnreachableTests {
    @Test func openingWithoutAServerIsUnavailable() async throws {
        do {
            _ = try await PostgresFeatureStore.open(
                url: "postgres://nobody:secret@127.0.0.1:1/none?sslmode=disable",
                configuration: FeatureStoreConfiguration(encoderIdentity: "e", dimension: 4))
            Issue.record("opened a store with no server")
        } catch let error as FeatureStoreError {
            guard case let .unavailable(location, _) = error else {
                Issue.record("expected .unavailable, got \(error)")
                return
            }
            #expect(location == "postgres://nobody@127.0.0.1:1/none")
            #expect(!error.description.contains("secret"))
        }
    }
}
