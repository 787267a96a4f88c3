// store-bench: fills a feature store with synthetic vectors and times random look-ups.
//
//   swift run -c release --scratch-path .build-store store-bench --store /tmp/f.sqlite --count 100000
//   swift run -c release --scratch-path .build-store store-bench --store "$LISTCONRANKER_TEST_POSTGRES_URL" --count 100000
//
// Prints the fill time (big transactions of --batch entries), the time to look up --lookups random
// ids in one call (first round and the median over --rounds), and the bytes the store takes.
import ArgumentParser
import Foundation
import ListConRankerStore

@main
struct StoreBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store-bench", abstract: "Fill a feature store with synthetic vectors and time random look-ups.")

    @Option(help: "A file path, sqlite:PATH, or postgres://user:password@host:port/database.")
    var store: String

    @Option(help: "Entries to fill the store with.")
    var count = 100_000

    @Option(help: "Elements per vector.")
    var dimension = 1024

    @Option(help: "fp32 or bf16.")
    var precision = "bf16"

    @Option(help: "Entries per upsert (one transaction each).")
    var batch = 10_000

    @Option(help: "Random ids per look-up call.")
    var lookups = 1_000

    @Option(help: "Look-up calls to time.")
    var rounds = 20

    @Flag(help: "Keep what the store already holds for this identity when it has --count entries (skip the fill).")
    var reuse = false

    mutating func run() async throws {
        guard let precision = VectorPrecision(rawValue: precision) else {
            throw ValidationError("--precision must be fp32 or bf16")
        }
        let location = try FeatureStoreLocation(parsing: store)
        let configuration = FeatureStoreConfiguration(
            encoderIdentity: "store-bench-\(dimension)-\(precision)", dimension: dimension, precision: precision)
        var featureStore = try await location.open(configuration: configuration)
        var held = try await featureStore.count()
        if held != count || !reuse {
            featureStore = try await emptied(featureStore, location: location, configuration: configuration)
            held = 0
        }
        print("store \(location) [\(featureStore.storeDescription)]")

        if held != count {
            let fillStart = ContinuousClock.now
            var generation = Duration.zero
            var next = 0
            while next < count {
                let generationStart = ContinuousClock.now
                let entries = (next..<min(next + batch, count)).map { index in
                    FeatureEntry(id: "passage-\(index)", textHash: hash(index), vector: syntheticVector(index, dimension: dimension))
                }
                generation += ContinuousClock.now - generationStart
                try await featureStore.upsert(entries)
                next += entries.count
            }
            let fill = ContinuousClock.now - fillStart - generation
            let seconds = fill.seconds
            print(String(format: "fill: %d × %d %@ in %.1f s (%.0f vectors/s, batches of %d; %.1f s more making the vectors)",
                         count, dimension, precision.rawValue, seconds, Double(count) / seconds, batch, generation.seconds))
        }

        var generator = SystemRandomNumberGenerator()
        var timings: [Double] = []
        for _ in 0..<rounds {
            let ids = (0..<lookups).map { _ in "passage-\(Int.random(in: 0..<count, using: &generator))" }
            let start = ContinuousClock.now
            let found = try await featureStore.vectors(for: ids)
            timings.append((ContinuousClock.now - start).seconds * 1000)
            let expected = Set(ids).count
            if found.count != expected {
                throw ValidationError("a look-up of \(expected) ids found \(found.count)")
            }
        }
        let sorted = timings.sorted()
        print(String(format: "lookup of %d random ids: first %.1f ms, median %.1f ms, min %.1f ms, max %.1f ms over %d rounds",
                     lookups, timings[0], sorted[sorted.count / 2], sorted[0], sorted[sorted.count - 1], rounds))
        let bytes = try await featureStore.storageBytes()
        let raw = count * dimension * precision.bytesPerElement
        print(String(format: "size: %.1f MiB (vectors alone: %.1f MiB)", Double(bytes) / 1_048_576, Double(raw) / 1_048_576))
        try await featureStore.close()
    }

    /// The store with nothing in it for this identity.
    private func emptied(
        _ store: any FeatureStore, location: FeatureStoreLocation, configuration: FeatureStoreConfiguration
    ) async throws -> any FeatureStore {
        switch location {
        case let .sqlite(path):
            try await store.close()
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        case .postgres:
            if let postgres = store as? PostgresFeatureStore { try await postgres.dropIdentity() }
        }
        return try await location.open(configuration: configuration)
    }
}

/// A 32-byte stand-in for the SHA-256 of passage `index`.
private func hash(_ index: Int) -> TextHash {
    var state = UInt64(index) &* 0x9E37_79B9_7F4A_7C15
    return TextHash(bytes: (0..<32).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 56)
    })
}

/// Values in (-1, 1), different for every passage, cheap to make (an LCG per vector).
private func syntheticVector(_ index: Int, dimension: Int) -> [Float] {
    var state = UInt64(index) &+ 0x2545_F491_4F6C_DD1D
    return (0..<dimension).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int32(truncatingIfNeeded: state >> 32)) / Float(Int32.max)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
