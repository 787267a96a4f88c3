import Foundation

/// `training_state.bin` beside a run's latest checkpoint: what `--resume` needs to continue to
/// the weights the uninterrupted run reaches. One file, written atomically: the 8-byte magic
/// `LCRTS001`, a little-endian UInt64 length, that many bytes of JSON (``Header``), then the
/// fp32 master parameters, AdamW's first and second moments (each ``Header/parameterCount``
/// float32s, little-endian).
///
/// The sampler and dropout draws are counter-based (``RandomStreams``): their generator state
/// is a function of the seed and the step, which the header records, so no generator bytes
/// need saving.
public struct TrainingStateFile: Sendable {
    /// The file name.
    public static let name = "training_state.bin"
    static let magic = Data("LCRTS001".utf8)

    /// The JSON part.
    public struct Header: Codable, Equatable, Sendable {
        /// Layout version of this file.
        public var format = 1
        /// The run's hyper-parameters.
        public var configuration: TrainingConfiguration
        /// Where the head started (`model <path>` or `encoder <path>`).
        public var start: String
        /// SHA-256 of the training data file's bytes.
        public var dataDigest: String
        /// Optimizer steps done.
        public var step: Int
        /// Optimizer steps of the whole run.
        public var totalSteps: Int
        /// Best dev MAP so far and its step (nil without `--eval-data`).
        public var bestMAP: Double?
        /// The step of ``bestMAP``.
        public var bestStep: Int?
        /// Elements in each of the three float blocks.
        public var parameterCount: Int
        /// Processes of the data-parallel job that wrote it (nil: one, from before MPI); a resumed
        /// run must have as many, so that each rank takes the share of every batch it took.
        public var ranks: Int?
        /// What trained the saved steps: `cpu`, or `GPU` and the card's name (nil: from before
        /// GPUs trained). A run resumes anywhere, bit-exact where it was saved (other devices
        /// round differently).
        public var device: String?
        /// How the sampler and dropout generators are derived (for people reading the file).
        public var randomState = "counter-based: RandomStreams(seed, purpose, epoch|step, …); next step = step"
    }

    /// The header.
    public var header: Header
    /// Master parameters.
    public var parameters: [Float]
    /// AdamW first moments.
    public var firstMoments: [Float]
    /// AdamW second moments.
    public var secondMoments: [Float]

    /// A state to write.
    public init(header: Header, parameters: [Float], firstMoments: [Float], secondMoments: [Float]) {
        self.header = header
        self.parameters = parameters
        self.firstMoments = firstMoments
        self.secondMoments = secondMoments
    }

    /// Writes `directory/training_state.bin` atomically.
    public func write(to directory: URL) throws {
        try Self.write(header: header, parameters: [parameters], firstMoments: [firstMoments],
                       secondMoments: [secondMoments], to: directory)
    }

    /// Writes `directory/training_state.bin` atomically from blocks that each of the three
    /// sections concatenates (stage 2: the head's, then the encoder's), streamed to the file a
    /// megabyte at a time: saving takes no memory beside the parameters and moments themselves.
    /// Throws unless each section holds ``Header/parameterCount`` values.
    public static func write(header: Header, parameters: [[Float]], firstMoments: [[Float]], secondMoments: [[Float]],
                             to directory: URL) throws {
        let url = directory.appendingPathComponent(name)
        for (section, blocks) in [("parameters", parameters), ("first moments", firstMoments), ("second moments", secondMoments)] {
            let count = blocks.reduce(0) { $0 + $1.count }
            guard count == header.parameterCount else {
                throw TrainingError.invalidInput("training state: \(count) \(section) for \(header.parameterCount) parameters")
            }
        }
        let json: Data
        do { json = try JSONEncoder().encode(header) } catch {
            throw TrainingError.writeFailed("\(url.path): the header does not encode (\(error))")
        }
        let file = try StreamingFileWriter(url: url)
        var prefix = magic
        prefix.appendLittleEndian(UInt64(json.count))
        prefix.append(json)
        try file.write(prefix)
        for block in parameters + firstMoments + secondMoments { try file.write(block) }
        try file.commit()
    }

    /// Reads the header only (for the checks before a run touches anything).
    public static func readHeader(in directory: URL) throws -> Header {
        try read(in: directory, blocks: false).header
    }

    /// Reads the whole state.
    public static func read(in directory: URL) throws -> TrainingStateFile {
        try read(in: directory, blocks: true)
    }

    private static func read(in directory: URL, blocks: Bool) throws -> TrainingStateFile {
        let url = directory.appendingPathComponent(name)
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw TrainingError.invalidInput("\(url.path): cannot read: \(error.localizedDescription)")
        }
        guard data.count >= 16, data.prefix(8) == magic else {
            throw TrainingError.invalidInput("\(url.path): not a training state file")
        }
        let length = Int(data[8..<16].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian })
        guard length >= 0, 16 + length <= data.count else { throw TrainingError.invalidInput("\(url.path): truncated header") }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: data[16..<16 + length])
        } catch {
            throw TrainingError.invalidInput("\(url.path): unreadable header: \(error)")
        }
        guard blocks else { return TrainingStateFile(header: header, parameters: [], firstMoments: [], secondMoments: []) }
        let n = header.parameterCount
        guard data.count == 16 + length + 3 * n * 4 else {
            throw TrainingError.invalidInput("\(url.path): \(data.count) bytes, expected \(16 + length + 3 * n * 4)")
        }
        func block(_ k: Int) -> [Float] {
            let start = 16 + length + k * n * 4
            var values = [Float](repeating: 0, count: n)
            values.withUnsafeMutableBytes { target in
                data[start..<start + n * 4].withUnsafeBytes { target.copyMemory(from: $0) }
            }
            return values
        }
        return TrainingStateFile(header: header, parameters: block(0), firstMoments: block(1), secondMoments: block(2))
    }
}
