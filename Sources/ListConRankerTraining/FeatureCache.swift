import Foundation
import ListConRanker

/// Mean-pooled encoder vectors of texts, kept on disk so a text is encoded once per encoder.
/// `<root>/<identity>/` holds:
/// - `index.json`: `{"identity", "hidden", "format": 2}`, written once when the folder is made;
/// - `vectors.f32`: float32 rows, little-endian, back to back;
/// - `keys.txt`: the SHA-256 (64 hex digits and a newline) of each row's text, in row order;
/// - `lock`: the `flock(2)` lock every writer holds (``FileLock``).
///
/// Both data files are only ever appended to, so adding n texts writes O(n) bytes however large
/// the cache is. Rows are appended to `vectors.f32` first and their keys after, each synced: a row
/// counts once its key line is complete, so a run killed in between leaves bytes no key lists;
/// the next writer cuts them off under the lock.
///
/// The folder is shared between runs (the default is one per user): several processes may use
/// it at once. Every change happens under the lock and starts by reading what other writers
/// appended (``locked(_:)``), so rows are never overwritten and keys never point at another
/// text's vector. One instance belongs to one thread at a time. A folder written by an earlier version (`index.json` listing every key) is
/// converted on first use.
public final class FeatureCache: @unchecked Sendable {
    /// The folder of this encoder's rows.
    public let directory: URL
    /// The encoder's identity.
    public let identity: EncoderIdentity
    /// Vector width.
    public let hidden: Int
    /// Called when another process holds the lock and this one waits for it.
    public var onWaitingForLock: (() -> Void)?
    private var rows: [Float] = []
    private var textRows: [String: Int] = [:]
    private var order: [String] = []
    private var heldLock: FileLock?

    /// One key line: 64 hex digits and a newline.
    static let keyLineBytes = 65

    private var indexURL: URL { directory.appendingPathComponent("index.json") }
    private var vectorsURL: URL { directory.appendingPathComponent("vectors.f32") }
    private var keysURL: URL { directory.appendingPathComponent("keys.txt") }

    /// Opens (or starts) the cache of `identity` under `root`, reading the rows written so far.
    public init(root: URL, identity: EncoderIdentity, hidden: Int) throws {
        self.directory = root.appendingPathComponent(identity.description, isDirectory: true)
        self.identity = identity
        self.hidden = hidden
        try locked { _ in }
    }

    /// Number of cached texts.
    public var count: Int { order.count }

    /// The key of `text`.
    public static func key(_ text: String) -> String { SHA256.hexDigest(of: Data(text.utf8)) }

    /// The row of the text with key `key`, if cached.
    public func row(forKey key: String) -> Int? { textRows[key] }

    /// The vector of row `row`.
    public func vector(row: Int) -> ArraySlice<Float> { rows[row * hidden..<(row + 1) * hidden] }

    /// Copies the vector of row `row` to the end of `target`.
    func append(row: Int, to target: inout [Float]) { target.append(contentsOf: rows[row * hidden..<(row + 1) * hidden]) }

    /// Runs `body` holding the cache's lock, after reading the rows other writers appended since
    /// this cache last looked: what `body` sees missing is missing on disk, and its
    /// ``append(_:)`` calls cannot interleave with another writer's. Re-entrant.
    public func locked<T>(_ body: (FeatureCache) throws -> T) throws -> T {
        if heldLock != nil { return try body(self) }
        let lock: FileLock
        do {
            lock = try FileLock.acquireBlocking(directory.appendingPathComponent("lock"), waiting: onWaitingForLock)
        } catch {
            throw TrainingError.writeFailed("feature cache \(directory.path): \(error)")
        }
        heldLock = lock
        defer {
            heldLock = nil
            lock.release()
        }
        do {
            try refresh()
        } catch let error as TrainingError {
            throw TrainingError.invalidInput("feature cache \(directory.path) is unusable (\(error)); delete it to rebuild")
        }
        return try body(self)
    }

    /// Adds vectors (`hidden` floats each) for texts with keys `keys` and writes them to disk:
    /// appended to both files, under the lock.
    public func append(_ entries: [(key: String, vector: [Float])]) throws {
        try locked { _ in try appendLocked(entries) }
    }

    private func appendLocked(_ entries: [(key: String, vector: [Float])]) throws {
        var seen = Set<String>()
        let fresh = entries.filter { textRows[$0.key] == nil && seen.insert($0.key).inserted }
        guard !fresh.isEmpty else { return }
        guard fresh.allSatisfy({ $0.vector.count == hidden }) else {
            throw TrainingError.invalidInput("feature vectors must have \(hidden) values")
        }
        guard fresh.allSatisfy({ $0.key.utf8.count == Self.keyLineBytes - 1 && !$0.key.contains("\n") }) else {
            throw TrainingError.invalidInput("feature cache keys are 64-character SHA-256 digests")
        }
        var vectorBytes = Data(capacity: fresh.count * hidden * 4)
        for entry in fresh { entry.vector.withUnsafeBytes { vectorBytes.append(contentsOf: $0) } }
        let keyBytes = Data(fresh.map { $0.key + "\n" }.joined().utf8)
        // Bytes past the listed rows are a killed writer's leftovers: cut them (we hold the lock).
        try appendBytes(vectorBytes, to: vectorsURL, after: UInt64(order.count * hidden * 4))
        try appendBytes(keyBytes, to: keysURL, after: UInt64(order.count * Self.keyLineBytes))
        for entry in fresh {
            textRows[entry.key] = order.count
            order.append(entry.key)
            rows += entry.vector
        }
    }

    private func appendBytes(_ bytes: Data, to url: URL, after offset: UInt64) throws {
        do {
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            try handle.truncate(atOffset: offset)
            try handle.seekToEnd()
            try handle.write(contentsOf: bytes)
            try handle.synchronize()
        } catch {
            throw TrainingError.writeFailed("\(url.path): \(error.localizedDescription)")
        }
    }

    /// Reads what was appended since this cache last looked; on the first call creates the
    /// folder's files, or converts an earlier version's `index.json`.
    private func refresh() throws {
        let manager = FileManager.default
        if !manager.fileExists(atPath: indexURL.path) {
            try create()
            return
        }
        struct Index: Decodable { let identity: String; let hidden: Int; let format: Int?; let texts: [String]? }
        let index: Index
        do {
            index = try JSONDecoder().decode(Index.self, from: Data(contentsOf: indexURL))
        } catch {
            throw TrainingError.invalidInput("index.json: \(error)")
        }
        guard index.identity == identity.digest, index.hidden == hidden else {
            throw TrainingError.invalidInput("it belongs to encoder \(index.identity) of width \(index.hidden)")
        }
        if let texts = index.texts, index.format == nil { try convert(listing: texts) }

        let keyData: Data
        do { keyData = try Data(contentsOf: keysURL) } catch {
            throw TrainingError.invalidInput("keys.txt: \(error.localizedDescription)")
        }
        let listed = keyData.count / Self.keyLineBytes   // a partial last line is a killed writer's
        guard listed > order.count else { return }
        let vectorsBytes = (try? manager.attributesOfItem(atPath: vectorsURL.path)[.size] as? Int) ?? 0
        guard vectorsBytes >= listed * hidden * 4 else {
            throw TrainingError.invalidInput("vectors.f32 holds \(vectorsBytes) bytes for \(listed) rows")
        }
        let newRows = listed - order.count
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: vectorsURL) } catch {
            throw TrainingError.invalidInput("vectors.f32: \(error.localizedDescription)")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            try handle.seek(toOffset: UInt64(order.count * hidden * 4))
            data = try handle.read(upToCount: newRows * hidden * 4) ?? Data()
        } catch {
            throw TrainingError.invalidInput("vectors.f32: \(error.localizedDescription)")
        }
        guard data.count == newRows * hidden * 4 else {
            throw TrainingError.invalidInput("vectors.f32: short read")
        }
        let start = rows.count
        rows += [Float](repeating: 0, count: newRows * hidden)
        rows.withUnsafeMutableBytes { target in
            data.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: target[(start * 4)...]).copyMemory(from: source)
            }
        }
        while order.count < listed {
            let offset = order.count * Self.keyLineBytes
            let key = String(decoding: keyData[offset..<offset + Self.keyLineBytes - 1], as: UTF8.self)
            textRows[key] = order.count
            order.append(key)
        }
    }

    /// A new folder: empty data files, then the index that makes it a cache.
    private func create() throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for url in [vectorsURL, keysURL] {
                guard FileManager.default.createFile(atPath: url.path, contents: Data()) else {
                    throw TrainingError.writeFailed("\(url.path): cannot create")
                }
            }
            try writeIndex()
        } catch let error as TrainingError {
            throw error
        } catch {
            throw TrainingError.writeFailed("\(directory.path): \(error.localizedDescription)")
        }
    }

    private func writeIndex() throws {
        let index: [String: Any] = ["identity": identity.digest, "hidden": hidden, "format": 2]
        do {
            try JSONSerialization.data(withJSONObject: index, options: [.sortedKeys]).write(to: indexURL, options: .atomic)
        } catch {
            throw TrainingError.writeFailed("\(indexURL.path): \(error.localizedDescription)")
        }
    }

    /// An earlier version's folder (every key in `index.json`): its keys move to `keys.txt`.
    private func convert(listing texts: [String]) throws {
        guard texts.allSatisfy({ $0.utf8.count == Self.keyLineBytes - 1 }) else {
            throw TrainingError.invalidInput("index.json lists a key that is not a SHA-256 digest")
        }
        do {
            try Data(texts.map { $0 + "\n" }.joined().utf8).write(to: keysURL, options: .atomic)
        } catch {
            throw TrainingError.writeFailed("\(keysURL.path): \(error.localizedDescription)")
        }
        try writeIndex()
    }
}
