import Foundation
import ListConRanker

/// What makes two frozen-encoder features of the same text equal: the encoder's weight bytes,
/// its tokenizer files, the token limit and the precision. The feature cache is keyed by it.
///
/// The weights are hashed by content (SHA-256 of the bytes), not by path, size and time:
/// a trained checkpoint carries a hard link or copy of its encoder, and training again from it
/// (`--model OUT`) should find the same features. The cost is one read of the weights per run
/// (about 0.5 s for m3e-small's 92 MB here; a few seconds for a 1.3 GB BERT-large).
public struct EncoderIdentity: Sendable, Equatable, CustomStringConvertible {
    /// 64 hex digits.
    public let digest: String

    /// The identity of the encoder in `directory` (a BERT or ListConRanker directory).
    public init(directory: URL, maxLength: Int, precision: Precision) throws {
        let model = try ModelDirectory(url: directory)
        guard let weights = model.encoderWeightsURL else {
            throw TrainingError.badWeights("\(directory.path): no encoder weights (model.safetensors or pytorch_model.bin)")
        }
        var hasher = SHA256()
        hasher.update(Data("listconranker-features-v1\nmax_length \(maxLength)\nprecision \(precision.rawValue)\n".utf8))
        let files = [weights] + ModelDirectory.File.tokenizer.filter(model.has).map(model.url(of:))
        for file in files {
            let digest: String
            do {
                digest = try SHA256.hexDigest(ofFileAt: file)
            } catch {
                throw TrainingError.badWeights("\(file.path): cannot read: \(error.localizedDescription)")
            }
            hasher.update(Data("\(file.lastPathComponent) \(digest)\n".utf8))
        }
        digest = hasher.finalizeHex()
    }

    /// The first 16 hex digits (names the cache folder).
    public var description: String { String(digest.prefix(16)) }
}
