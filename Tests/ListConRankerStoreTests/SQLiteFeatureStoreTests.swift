import Foundation
import GRDB
import Testing
@testable import ListConRankerStore

@Suite("SQLite feature store")
struct SQLiteFeatureStoreTests {
    let dimension = 16

    func configuration(_ identity: String = "encoder-a", precision: VectorPrecision? = nil) -> FeatureStoreConfiguration {
        FeatureStoreConfiguration(encoderIdentity: identity, dimension: dimension, precision: precision)
    }

    @Test func fp32RoundTripIsExact() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try SQLiteFeatureStore(path: directory.path("f.sqlite"), configuration: configuration(precision: .fp32))
        let entries = makeEntries(count: 300, dimension: dimension, seed: 1)
        try await store.upsert(entries)
        let found = try await store.vectors(for: entries.map(\.id))
        #expect(found.count == entries.count)
        for entry in entries {
            #expect(found[entry.id]?.vector.map(\.bitPattern) == entry.vector.map(\.bitPattern))
            #expect(found[entry.id]?.textHash == entry.textHash)
        }
        #expect(try await store.count() == 300)
        try await store.close()
    }

    @Test func bf16RoundTripIsTheRoundedValue() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try SQLiteFeatureStore(path: directory.path("f.sqlite"), configuration: configuration(precision: .bf16))
        #expect(store.storeDescription.precision == .bf16)
        let entries = makeEntries(count: 50, dimension: dimension, seed: 2)
        try await store.upsert(entries)
        let ordered = try await store.orderedVectors(for: entries.map(\.id))
        for (entry, stored) in zip(entries, ordered) {
            #expect(stored.vector == entry.vector.map(referenceBFloat16))
            for (original, value) in zip(entry.vector, stored.vector) {
                #expect(abs(value - original) <= abs(original) * 0x1p-8)
            }
        }
        // Half the bytes of fp32 for the vector itself.
        let report = try await store.integrityCheck()
        #expect(report.isHealthy)
        try await store.close()
    }

    @Test func upsertReplacesAndALaterDuplicateInABatchWins() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try SQLiteFeatureStore(path: directory.path("f.sqlite"), configuration: configuration())
        let first = FeatureEntry(id: "doc", textHash: fakeHash("old"), vector: Array(repeating: 1, count: dimension))
        try await store.upsert([first])
        let replacement = FeatureEntry(id: "doc", textHash: fakeHash("new"), vector: Array(repeating: 2, count: dimension))
        try await store.upsert([replacement])
        #expect(try await store.count() == 1)
        #expect(try await store.vectors(for: ["doc"])["doc"] == StoredVector(textHash: fakeHash("new"), vector: replacement.vector))
        #expect(try await store.textHashes(for: ["doc", "absent"]) == ["doc": fakeHash("new")])

        let third = FeatureEntry(id: "doc", textHash: fakeHash("third"), vector: Array(repeating: 3, count: dimension))
        let fourth = FeatureEntry(id: "doc", textHash: fakeHash("fourth"), vector: Array(repeating: 4, count: dimension))
        try await store.upsert([third, fourth])
        #expect(try await store.vectors(for: ["doc"])["doc"]?.vector == fourth.vector)
        try await store.close()
    }

    @Test func deleteRemovesOnlyWhatExists() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try SQLiteFeatureStore(path: directory.path("f.sqlite"), configuration: configuration())
        try await store.upsert(makeEntries(count: 10, dimension: dimension, seed: 3))
        #expect(try await store.delete(ids: ["p1", "p2", "p2", "nope"]) == 2)
        #expect(try await store.count() == 8)
        #expect(try await store.vectors(for: ["p1", "p2", "p3"]).keys.sorted() == ["p3"])
        try await store.close()
    }

    @Test func orderedLookupNamesEveryMissingID() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try SQLiteFeatureStore(path: directory.path("f.sqlite"), configuration: configuration())
        let entries = makeEntries(count: 3, dimension: dimension, seed: 4)
        try await store.upsert(entries)
        await #expect(throws: FeatureStoreError.missingIDs(["x", "y"])) {
            try await store.orderedVectors(for: ["p0", "x", "p2", "y"])
        }
        let ordered = try await store.orderedVectors(for: ["p2", "p0", "p2"])
        #expect(ordered.map(\.vector) == [entries[2].vector, entries[0].vector, entries[2].vector])
        #expect(FeatureStoreError.missingIDs(["x", "y"]).description.contains("\"x\", \"y\""))
        try await store.close()
    }

    @Test func aLookupOfMoreIDsThanOneStatementBindsReadsThemAll() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try SQLiteFeatureStore(path: directory.path("f.sqlite"), configuration: configuration(precision: .bf16))
        try await store.upsert(makeEntries(count: 1_234, dimension: dimension, seed: 5))
        let ids = (0..<1_300).map { "p\($0)" }
        #expect(try await store.vectors(for: ids).count == 1_234)
        #expect(try await store.delete(ids: ids) == 1_234)
        try await store.close()
    }

    @Test func anotherEncoderIdentityOrDimensionIsRefused() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path("f.sqlite")
        let store = try SQLiteFeatureStore(path: path, configuration: configuration("encoder-a", precision: .bf16))
        try await store.upsert(makeEntries(count: 2, dimension: dimension, seed: 6))
        try await store.close()

        do {
            _ = try SQLiteFeatureStore(path: path, configuration: configuration("encoder-b"))
            Issue.record("opening encoder-a's store for encoder-b succeeded")
        } catch let error as FeatureStoreError {
            #expect(error == .encoderMismatch(location: path, stored: "encoder-a", storedDimension: dimension, requested: "encoder-b", requestedDimension: dimension))
            #expect(error.description.contains("encoder-a") && error.description.contains("encoder-b"))
        }
        #expect(throws: FeatureStoreError.encoderMismatch(
            location: path, stored: "encoder-a", storedDimension: dimension, requested: "encoder-a", requestedDimension: 32)) {
            try SQLiteFeatureStore(
                path: path, configuration: FeatureStoreConfiguration(encoderIdentity: "encoder-a", dimension: 32))
        }
        #expect(throws: FeatureStoreError.precisionMismatch(location: path, stored: .bf16, requested: .fp32)) {
            try SQLiteFeatureStore(path: path, configuration: configuration("encoder-a", precision: .fp32))
        }
        // Nothing was written by the refused opens.
        let reopened = try SQLiteFeatureStore(path: path, configuration: configuration("encoder-a"))
        #expect(try await reopened.count() == 2)
        try await reopened.close()
    }

    @Test func aBatchWithOneBadEntryWritesNothing() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try SQLiteFeatureStore(path: directory.path("f.sqlite"), configuration: configuration())
        var entries = makeEntries(count: 5, dimension: dimension, seed: 7)
        entries[3].vector.removeLast()
        await #expect(throws: FeatureStoreError.invalidEntry(id: "p3", reason: "the vector has 15 elements; the store's dimension is 16")) {
            try await store.upsert(entries)
        }
        entries[3].vector.append(.nan)
        await #expect(throws: FeatureStoreError.self) { try await store.upsert(entries) }
        await #expect(throws: FeatureStoreError.self) {
            try await store.upsert([FeatureEntry(id: "", textHash: fakeHash("x"), vector: Array(repeating: 0, count: 16))])
        }
        await #expect(throws: FeatureStoreError.self) {
            try await store.upsert([FeatureEntry(id: "x", textHash: TextHash(bytes: []), vector: Array(repeating: 0, count: 16))])
        }
        #expect(try await store.count() == 0)
        try await store.close()
    }

    @Test func reopeningAfterCloseKeepsEverythingAndAdoptsThePrecision() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path("f.sqlite")
        let entries = makeEntries(count: 20, dimension: dimension, seed: 8)
        let store = try SQLiteFeatureStore(path: path, configuration: configuration(precision: .bf16))
        try await store.upsert(entries)
        try await store.close()
        await #expect(throws: FeatureStoreError.closed(location: path)) { try await store.count() }
        try await store.close()  // a second close is harmless

        let reopened = try SQLiteFeatureStore(path: path, configuration: configuration())
        #expect(reopened.storeDescription == StoreDescription(encoderIdentity: "encoder-a", dimension: dimension, precision: .bf16, schemaVersion: 1))
        let found = try await reopened.vectors(for: entries.map(\.id))
        #expect(found["p7"]?.vector == entries[7].vector.map(referenceBFloat16))
        #expect(found.count == 20)
        try await reopened.close()
    }

    @Test func theFileIsInWALModeWithAPageSizeFittingTheRows() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path("f.sqlite")
        let store = try SQLiteFeatureStore(
            path: path, configuration: FeatureStoreConfiguration(encoderIdentity: "e", dimension: 1024, precision: .bf16))
        try await store.upsert(makeEntries(count: 200, dimension: 1024, seed: 9))
        try await store.close()
        let queue = try DatabaseQueue(path: path)
        let (mode, pageSize) = try await queue.read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA page_size"))
        }
        try queue.close()
        #expect(mode == "wal")
        #expect(pageSize == 16384)
        #expect(SQLiteFeatureStore.pageSize(forVectorBytes: 16 * 4) == 4096)
        // 200 rows of 2 KiB: the file stays within 25 % of the raw bytes (4 KiB pages would double it).
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        #expect(size < 200 * 2048 * 5 / 4 + 3 * 16384)
    }

    @Test func filesThatAreNotStoresAreRefused() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let text = directory.path("notes.txt")
        try Data(String(repeating: "not a database\n", count: 100).utf8).write(to: URL(fileURLWithPath: text))
        #expect(throws: FeatureStoreError.notAFeatureStore(location: text, reason: "it is not an SQLite database")) {
            try SQLiteFeatureStore(path: text, configuration: configuration())
        }
        let other = directory.path("other.sqlite")
        let queue = try DatabaseQueue(path: other)
        try await queue.write { db in try db.execute(sql: "CREATE TABLE t (x)") }
        try queue.close()
        #expect(throws: FeatureStoreError.self) { try SQLiteFeatureStore(path: other, configuration: configuration()) }
    }

    @Test func integrityCheckNamesDamagedEntries() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path("f.sqlite")
        let store = try SQLiteFeatureStore(path: path, configuration: configuration())
        try await store.upsert(makeEntries(count: 10, dimension: dimension, seed: 10))
        #expect(try await store.integrityCheck() == IntegrityReport(entryCount: 10, malformedIDs: [], malformedCount: 0, engineProblems: []))

        // Another program truncates one vector behind the store's back.
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: "UPDATE listconranker_features SET vector = substr(vector, 1, 8) WHERE id = 'p4'")
        }
        try queue.close()
        let report = try await store.integrityCheck()
        #expect(!report.isHealthy)
        #expect(report.malformedIDs == ["p4"])
        await #expect(throws: FeatureStoreError.self) { try await store.vectors(for: ["p4"]) }
        do {
            _ = try await store.vectors(for: ["p3", "p4"])
        } catch let error as FeatureStoreError {
            #expect(error.description.contains("p4"))
        }
        try await store.close()
    }

    /// WAL gives each read transaction one snapshot: while a writer rewrites all entries batch after
    /// batch, a reader (another connection pool, like another process) sees one generation at a time.
    @Test func aConcurrentReaderSeesWholeBatchesOnly() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path("f.sqlite")
        let writer = try SQLiteFeatureStore(path: path, configuration: configuration())
        let reader = try SQLiteFeatureStore(path: path, configuration: configuration())
        let ids = (0..<600).map { "p\($0)" }  // more than one look-up chunk of 500
        func batch(_ generation: Int) -> [FeatureEntry] {
            ids.map { FeatureEntry(id: $0, textHash: fakeHash($0, generation: generation), vector: Array(repeating: Float(generation), count: 16)) }
        }
        try await writer.upsert(batch(0))
        let generations = 60

        let observed = try await withThrowingTaskGroup(of: Set<Int>.self) { group in
            group.addTask {
                for generation in 1...generations { try await writer.upsert(batch(generation)) }
                return []
            }
            group.addTask {
                var seen = Set<Int>()
                while !seen.contains(generations) {
                    let found = try await reader.vectors(for: ids)
                    let values = Set(found.values.map { Int($0.vector[0]) })
                    #expect(found.count == ids.count)
                    #expect(values.count == 1, "one read mixed generations \(values.sorted())")
                    seen.formUnion(values)
                }
                return seen
            }
            var all = Set<Int>()
            for try await seen in group { all.formUnion(seen) }
            return all
        }
        #expect(observed.contains(generations))
        try await writer.close()
        try await reader.close()
    }
}
