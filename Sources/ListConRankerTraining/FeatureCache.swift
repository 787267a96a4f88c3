import Foundation
import ListConRanker

/// Mean-pooled encoder vectors of texts, kept on disk so a text is encoded once per encoder:
/// `<root>/<identity>/vectors.f32` (float32 rows, little-endian, back to back) and
/// `index.json` (`{"identity", "hidden", "texts": [SHA-256 of each row's text]}`).
///
/// Rows are appended to the vectors file first and the index is replaced atomically after,
/// so a run killed in between leaves rows the index does not list; they are cut off on the
/// next ``append(_:)``. One writer at a time (two runs sharing a cache should not encode at once).
public final class FeatureCache: @unchecked Sendable {
    /// The folder of this encoder's rows.
    public let directory: URL
    /// The encoder's identity.
    public let identity: EncoderIdentity
    /// Vector width.
    public let hidden: Int
    private var rows: [Float] = []
    private var textRows: [String: Int] = [:]
    private var order: [String] = []

    /// Opens (or starts) the cache of `identity` under `root`.
    public init(root: URL, identity: EncoderIdentity, hidden: Int) throws {
        self.directory = root.appendingPathComponent(identity.description, isDirectory: true)
        self.identity = identity
        self.hidden = hidden
        let indexURL = directory.appendingPathComponent("index.json")
        guard FileManager.default.fileExists(atPath: indexURL.path) else { return }
        struct Index: Decodable { let identity: String; let hidden: Int; let texts: [String] }
        do {
            let index = try JSONDecoder().decode(Index.self, from: Data(contentsOf: indexURL))
            guard index.identity == identity.digest, index.hidden == hidden else {
                throw TrainingError.invalidInput("it belongs to encoder \(index.identity) of width \(index.hidden)")
            }
            let data = try Data(contentsOf: directory.appendingPathComponent("vectors.f32"))
            guard data.count >= index.texts.count * hidden * 4 else {
                throw TrainingError.invalidInput("vectors.f32 holds \(data.count) bytes for \(index.texts.count) rows")
            }
            rows = [Float](repeating: 0, count: index.texts.count * hidden)
            rows.withUnsafeMutableBytes { target in
                data.withUnsafeBytes { source in target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<target.count])) }
            }
            order = index.texts
            for (row, text) in index.texts.enumerated() { textRows[text] = row }
        } catch {
            throw TrainingError.invalidInput("feature cache \(directory.path) is unusable (\(error)); delete it to rebuild")
        }
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

    /// Adds vectors (`hidden` floats each) for texts with keys `keys` and writes them to disk.
    public func append(_ entries: [(key: String, vector: [Float])]) throws {
        let fresh = entries.filter { textRows[$0.key] == nil }
        guard !fresh.isEmpty else { return }
        guard fresh.allSatisfy({ $0.vector.count == hidden }) else {
            throw TrainingError.invalidInput("feature vectors must have \(hidden) values")
        }
        let vectorsURL = directory.appendingPathComponent("vectors.f32")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            if !FileManager.default.fileExists(atPath: vectorsURL.path) {
                FileManager.default.createFile(atPath: vectorsURL.path, contents: nil)
            }
            let handle = try FileHandle(forWritingTo: vectorsURL)
            defer { try? handle.close() }
            try handle.truncate(atOffset: UInt64(order.count * hidden * 4))   // drop rows no index lists
            try handle.seekToEnd()
            var bytes = Data(capacity: fresh.count * hidden * 4)
            for entry in fresh {
                entry.vector.withUnsafeBytes { bytes.append(contentsOf: $0) }
            }
            try handle.write(contentsOf: bytes)
            try handle.synchronize()
        } catch {
            throw TrainingError.writeFailed("\(vectorsURL.path): \(error.localizedDescription)")
        }
        for entry in fresh {
            textRows[entry.key] = order.count
            order.append(entry.key)
            rows += entry.vector
        }
        let index: [String: Any] = ["identity": identity.digest, "hidden": hidden, "texts": order]
        do {
            let data = try JSONSerialization.data(withJSONObject: index)
            try data.write(to: directory.appendingPathComponent("index.json"), options: .atomic)
        } catch {
            throw TrainingError.writeFailed("\(directory.path)/index.json: \(error.localizedDescription)")
        }
    }
}
