import Foundation
import ListConRanker

/// The output directory of a run: the latest checkpoint in the official layout at its top (so
/// `listconranker rerank --model OUT` serves it), `training_state.bin` beside it, `epoch-N/`
/// after each epoch and `best/` with the best dev MAP. This type decides whether a directory
/// may be used at all, and writes checkpoints.
public struct TrainingOutput: Sendable {
    /// The directory.
    public let directory: URL
    /// The encoder files every checkpoint carries unchanged: config and tokenizer, and in
    /// stage 1 the weights too (stage 2 writes its own ``EncoderCheckpointWriter/fileName``);
    /// symbolic links resolved, so these are the files' bytes, never links to them.
    public let encoderFiles: [URL]
    /// The names the ``encoderFiles`` have in a checkpoint (a resolved hub blob is named by its
    /// hash; the checkpoint keeps the snapshot's name).
    public let encoderFileNames: [String]
    /// The starting encoder's weights file (stage 2 takes names and untrained tensors from it).
    public let encoderWeights: URL

    /// An output for checkpoints carrying the encoder files of `start`; `trainsEncoder` (stage 2)
    /// leaves the weights file out of what is linked, since each checkpoint writes its own.
    public init(directory: URL, start: URL, trainsEncoder: Bool = false) throws {
        let model = try ModelDirectory(url: start)
        guard let weights = model.encoderWeightsURL else {
            throw TrainingError.badWeights("\(start.path): no encoder weights (model.safetensors or pytorch_model.bin)")
        }
        guard model.has(.config) else { throw TrainingError.badWeights("\(start.path): no config.json") }
        self.directory = directory
        // A hub snapshot's files are relative symbolic links into `blobs/`: a hard link to such a
        // link (what link(2) makes on Linux) or a copy of it dangles in the output folder. The
        // files themselves are what every checkpoint carries.
        encoderWeights = weights
        let files = [model.url(of: .config)] + (trainsEncoder ? [] : [weights])
            + ModelDirectory.File.tokenizer.filter(model.has).map(model.url(of:))
        encoderFiles = files.map { $0.resolvingSymlinksInPath() }
        encoderFileNames = files.map(\.lastPathComponent)
    }

    /// Checks `directory` before anything is written: nil for a fresh run (the directory is
    /// absent or empty), the saved state's header when resuming a run of the same settings.
    /// Throws when the directory holds another model, a run of other hyper-parameters or data,
    /// a run while `resume` is false, or nothing to resume while `resume` is true.
    public static func check(_ directory: URL, expected: TrainingStateFile.Header, resume: Bool) throws -> TrainingStateFile.Header? {
        let manager = FileManager.default
        let contents = (try? manager.contentsOfDirectory(atPath: directory.path)) ?? []
        let path = directory.path
        if contents.isEmpty {
            if resume { throw TrainingError.invalidInput("--resume: \(path) holds no run to resume") }
            return nil
        }
        guard contents.contains(TrainingStateFile.name) else {
            if contents.contains(where: { ModelDirectory.File(rawValue: $0) != nil }) {
                throw TrainingError.invalidInput("\(path) holds another model (no \(TrainingStateFile.name)); "
                    + "choose an empty or new --output, nothing was written")
            }
            throw TrainingError.invalidInput("\(path) is not empty and holds no training run; choose an empty or new --output")
        }
        let saved = try TrainingStateFile.readHeader(in: directory)
        var differences = try expected.configuration.differences(from: saved.configuration)
        if saved.start != expected.start { differences.append("start: \(saved.start) → \(expected.start)") }
        if saved.dataDigest != expected.dataDigest { differences.append("training data: its contents changed") }
        guard differences.isEmpty else {
            throw TrainingError.invalidInput("\(path) holds a run with other settings (\(differences.joined(separator: "; "))); "
                + "use another --output, nothing was written")
        }
        guard resume else {
            throw TrainingError.invalidInput("\(path) holds a run of these settings at step \(saved.step)/\(saved.totalSteps); "
                + "pass --resume to continue it or choose another --output")
        }
        return saved
    }

    /// Writes a checkpoint into `folder` (relative to the directory; "" for the top): the encoder
    /// files hard-linked (copied where links fail) unless already there, the trained encoder's
    /// `model.safetensors` when `encoder` is given (stage 2), then the two head files.
    public func writeCheckpoint(_ parameters: ListHeadParameters, encoder: EncoderParameters? = nil,
                                folder: String = "") throws {
        let target = folder.isEmpty ? directory : directory.appendingPathComponent(folder, isDirectory: true)
        let manager = FileManager.default
        do {
            try manager.createDirectory(at: target, withIntermediateDirectories: true)
            for (file, name) in zip(encoderFiles, encoderFileNames) {
                let destination = target.appendingPathComponent(name)
                if manager.fileExists(atPath: destination.path) { continue }
                // A dangling link (left by an older version of this code) is replaced.
                if (try? manager.destinationOfSymbolicLink(atPath: destination.path)) != nil {
                    try manager.removeItem(at: destination)
                }
                do {
                    try manager.linkItem(at: file, to: destination)
                } catch {
                    try manager.copyItem(at: file, to: destination)
                }
            }
        } catch {
            throw TrainingError.writeFailed("\(target.path): \(error.localizedDescription)")
        }
        if let encoder { try EncoderCheckpointWriter.write(encoder, source: encoderWeights, to: target) }
        try ListHeadCheckpointWriter.write(parameters, to: target)
    }
}
