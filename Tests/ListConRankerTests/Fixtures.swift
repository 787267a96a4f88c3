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
    /// or nil when it has not been fetched (tests that need it are then disabled, and CI always fetches).
    static func downloadedModel(_ name: String) -> URL? {
        let url = repositoryRoot.appendingPathComponent(".models/\(name)", isDirectory: true)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }
}
