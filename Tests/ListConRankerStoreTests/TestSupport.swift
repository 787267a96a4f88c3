import Foundation
@testable import ListConRankerStore

/// A fresh directory under the system's temporary folder, removed by `cleanup()`.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("listconranker-store-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

/// Deterministic pseudo-random numbers (SplitMix64), so a failing test fails the same way again.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// `count` vectors of `dimension` values spread over several orders of magnitude, both signs.
func randomVectors(count: Int, dimension: Int, seed: UInt64) -> [[Float]] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { _ in
        (0..<dimension).map { _ in
            Float.random(in: -1...1, using: &generator) * Float(pow(10, Double(Int.random(in: -6...3, using: &generator))))
        }
    }
}

/// A 32-byte stand-in for a SHA-256 digest, distinct per (text, generation).
func fakeHash(_ text: String, generation: Int = 0) -> TextHash {
    var generator = SeededGenerator(seed: UInt64(truncatingIfNeeded: text.hashValue) &+ UInt64(generation))
    return TextHash(bytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
}

/// Entries "p0", "p1", … with random vectors.
func makeEntries(count: Int, dimension: Int, seed: UInt64, prefix: String = "p") -> [FeatureEntry] {
    randomVectors(count: count, dimension: dimension, seed: seed).enumerated().map { index, vector in
        FeatureEntry(id: "\(prefix)\(index)", textHash: fakeHash("\(prefix)\(index)", generation: Int(seed)), vector: vector)
    }
}

/// A unique encoder identity, so tests sharing one PostgreSQL database never see each other's rows.
func uniqueIdentity(_ label: String) -> String {
    "test-\(label)-\(UUID().uuidString.lowercased())"
}

/// The bf16 round trip of `value`, computed independently of the store's codec: the nearest of the
/// two bf16 neighbours, ties to the one with an even last bit.
func referenceBFloat16(_ value: Float) -> Float {
    let bits = value.bitPattern
    let down = Float(bitPattern: bits & 0xFFFF_0000)
    let up = Float(bitPattern: (bits & 0xFFFF_0000) &+ 0x1_0000)
    let distanceDown = abs(Double(value) - Double(down))
    let distanceUp = abs(Double(value) - Double(up))
    if distanceDown < distanceUp { return down }
    if distanceUp < distanceDown { return up }
    return (bits >> 16) & 1 == 0 ? down : up
}
