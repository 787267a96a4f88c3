import Foundation

/// Locates committed test fixtures (under `Tests/ListConRankerTests/Fixtures`) and
/// the large, downloaded ones that `.ci/run` unpacks into `.models/` at the repo root.
enum Fixtures {
    /// `Tests/ListConRankerTests/Fixtures`.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures", isDirectory: true)

    /// A path below the fixtures folder.
    static func url(_ relativePath: String) -> URL {
        root.appendingPathComponent(relativePath)
    }

    /// The repository root.
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A real model unpacked from a PyPI wheel by `tools/fetch-test-models.sh` into `.models/NAME`,
    /// or nil when it has not been fetched.
    static func downloadedModel(_ name: String) -> URL? {
        let url = repositoryRoot.appendingPathComponent(".models/\(name)", isDirectory: true)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// Whether tests of the real models `names` run: where they have been fetched, and always in
    /// CI (the `CI` environment variable set), where a missing model must fail the test that
    /// needs it, not skip it.
    static func realModelTestsRun(_ names: String...) -> Bool {
        ProcessInfo.processInfo.environment["CI"] != nil || names.allSatisfy { downloadedModel($0) != nil }
    }

    /// A committed JSON fixture, decoded; a missing or malformed file is an error, never a skip.
    static func json<T: Decodable>(_ type: T.Type, _ relativePath: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: url(relativePath)))
    }
}

/// A small deterministic random generator (SplitMix64), so tests repeat exactly.
struct SplitMix64: RandomNumberGenerator {
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
