import Foundation
import ListConRanker
import Testing
@testable import ListConRankerTraining

/// The shared feature cache: two writers at once keep every text on its own vector, adding texts
/// appends (the index is written once, not per chunk), and a folder of the earlier layout reads.
@Suite struct FeatureCacheTests {
    static let hidden = 8

    static func identity() throws -> EncoderIdentity {
        try EncoderIdentity(directory: TrainingFixtures.tinyModel, maxLength: 32)
    }

    /// A vector that says which text it belongs to.
    static func vector(_ text: String) -> [Float] {
        Array(FeatureCache.key(text).utf8.prefix(hidden)).map(Float.init)
    }

    static func entries(_ texts: [String]) -> [(key: String, vector: [Float])] {
        texts.map { (key: FeatureCache.key($0), vector: vector($0)) }
    }

    @Test func twoConcurrentWritersKeepEveryTextOnItsVector() throws {
        let root = try TrainerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let identity = try Self.identity()
        // Both open before either writes, as two `train` runs started together do.
        let writers = try (0..<2).map { _ in try FeatureCache(root: root, identity: identity, hidden: Self.hidden) }
        let failures = FailureList()
        DispatchQueue.concurrentPerform(iterations: 2) { writer in
            do {
                for chunk in 0..<40 {
                    // Some texts both runs have (the shared dev set), most their own.
                    let texts = ["shared \(chunk)", "run \(writer) text \(chunk)a", "run \(writer) text \(chunk)b"]
                    try writers[writer].append(Self.entries(texts))
                }
            } catch {
                failures.add("\(error)")
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")

        let reopened = try FeatureCache(root: root, identity: identity, hidden: Self.hidden)
        let expected = (0..<40).flatMap { chunk in
            ["shared \(chunk)"] + (0..<2).flatMap { ["run \($0) text \(chunk)a", "run \($0) text \(chunk)b"] }
        }
        #expect(reopened.count == expected.count)
        for text in expected {
            let row = try #require(reopened.row(forKey: FeatureCache.key(text)), "\(text) is missing")
            #expect(Array(reopened.vector(row: row)) == Self.vector(text), "\(text) points at another text's vector")
        }
        // Each writer sees the other's rows once it next takes the lock.
        try writers[0].locked { cache in
            #expect(cache.row(forKey: FeatureCache.key("run 1 text 0a")) != nil)
        }
    }

    /// Adding texts must not rewrite what is already there: 50 chunks leave `index.json` the file
    /// written when the folder was made, and the key file grows by one line per text.
    @Test func addingTextsAppendsInsteadOfRewritingTheIndex() throws {
        let root = try TrainerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let cache = try FeatureCache(root: root, identity: try Self.identity(), hidden: Self.hidden)
        try cache.append(Self.entries(["first"]))
        let index = cache.directory.appendingPathComponent("index.json").path
        func fileNumber() throws -> Int? { try FileManager.default.attributesOfItem(atPath: index)[.systemFileNumber] as? Int }
        let before = try fileNumber()
        let indexBytes = FileManager.default.contents(atPath: index)
        for chunk in 0..<50 { try cache.append(Self.entries(["a \(chunk)", "b \(chunk)"])) }
        #expect(try fileNumber() == before)
        #expect(FileManager.default.contents(atPath: index) == indexBytes)
        let vectors = try FileManager.default.attributesOfItem(atPath: cache.directory.appendingPathComponent("vectors.f32").path)
        #expect(vectors[.size] as? Int == 101 * Self.hidden * 4)
        let reopened = try FeatureCache(root: root, identity: try Self.identity(), hidden: Self.hidden)
        #expect(reopened.count == 101)
        #expect(Array(reopened.vector(row: try #require(reopened.row(forKey: FeatureCache.key("b 49"))))) == Self.vector("b 49"))
    }

    /// A writer killed between the vectors and the keys leaves rows no key lists (and perhaps half
    /// a key line): they are not read, and the next append cuts them off.
    @Test func leftoversOfAKilledWriterAreCutOff() throws {
        let root = try TrainerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let cache = try FeatureCache(root: root, identity: try Self.identity(), hidden: Self.hidden)
        try cache.append(Self.entries(["kept"]))
        for (name, junk) in [("vectors.f32", Data(repeating: 7, count: 3 * Self.hidden * 4)), ("keys.txt", Data("abc".utf8))] {
            let handle = try FileHandle(forWritingTo: cache.directory.appendingPathComponent(name))
            try handle.seekToEnd()
            try handle.write(contentsOf: junk)
            try handle.close()
        }
        let reopened = try FeatureCache(root: root, identity: try Self.identity(), hidden: Self.hidden)
        #expect(reopened.count == 1)
        try reopened.append(Self.entries(["next"]))
        let again = try FeatureCache(root: root, identity: try Self.identity(), hidden: Self.hidden)
        #expect(again.count == 2)
        #expect(Array(again.vector(row: try #require(again.row(forKey: FeatureCache.key("next"))))) == Self.vector("next"))
    }

    /// A cache written before keys had their own file (`index.json` listing every key) still reads.
    @Test func anEarlierLayoutIsConverted() throws {
        let root = try TrainerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let identity = try Self.identity()
        let folder = root.appendingPathComponent(identity.description, isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let texts = ["old one", "old two"]
        var vectors = Data()
        for text in texts { Self.vector(text).withUnsafeBytes { vectors.append(contentsOf: $0) } }
        try vectors.write(to: folder.appendingPathComponent("vectors.f32"))
        let index: [String: Any] = ["identity": identity.digest, "hidden": Self.hidden, "texts": texts.map(FeatureCache.key)]
        try JSONSerialization.data(withJSONObject: index).write(to: folder.appendingPathComponent("index.json"))

        let cache = try FeatureCache(root: root, identity: identity, hidden: Self.hidden)
        #expect(cache.count == 2)
        try cache.append(Self.entries(["new"]))
        let reopened = try FeatureCache(root: root, identity: identity, hidden: Self.hidden)
        for text in texts + ["new"] {
            #expect(Array(reopened.vector(row: try #require(reopened.row(forKey: FeatureCache.key(text))))) == Self.vector(text))
        }
    }
}

/// Errors collected from concurrent work.
final class FailureList: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []

    func add(_ item: String) {
        lock.lock()
        items.append(item)
        lock.unlock()
    }

    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}
