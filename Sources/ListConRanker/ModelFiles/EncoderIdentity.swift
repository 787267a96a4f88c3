import Foundation

/// What a text's pooled encoder vector depends on, as one SHA-256: the encoder weight file's
/// bytes, `config.json`, the tokenizer files and the truncation length. Feature stores and
/// training's feature cache are keyed by it, so vectors of two encoders are never mixed.
///
/// The weights are hashed by content, not by path, size or time: a trained checkpoint carries a
/// hard link or copy of its encoder, and it should find the same vectors; a replica on another
/// machine too. The list head's files are left out, so a head retrained with the encoder frozen
/// keeps its vectors. The cost is one read of the weights (about 0.5 s for m3e-small's 92 MB
/// here; a few seconds for BERT-large's 1.3 GB), once per model load, on first use.
public struct EncoderIdentity: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// 64 hex digits.
    public let digest: String

    /// The identity of the encoder in `directory` (a BERT or ListConRanker directory) when it
    /// truncates texts to `maxLength` tokens.
    public init(directory: URL, maxLength: Int) throws {
        let model = try ModelDirectory(url: directory)
        guard let weights = model.encoderWeightsURL else {
            throw ModelError.missingFile(directory.appendingPathComponent("model.safetensors").path)
        }
        var hasher = SHA256()
        hasher.update(Data("listconranker-encoder-identity-v1\nmax_length \(maxLength)\n".utf8))
        let files = [weights, model.url(of: .config)] + ModelDirectory.File.tokenizer.filter(model.has).map(model.url(of:))
        for file in files {
            let digest: String
            do {
                digest = try SHA256.hexDigest(ofFileAt: file)
            } catch {
                throw ModelError.missingFile("\(file.path) (\(error.localizedDescription))")
            }
            // The role, not the file name: the same weights as safetensors or .bin differ anyway.
            hasher.update(Data("\(file == weights ? "weights" : file.lastPathComponent) \(digest)\n".utf8))
        }
        digest = hasher.finalizeHex()
    }

    /// This identity narrowed by something else the vectors depend on (training's cache adds the
    /// precision its vectors were computed in).
    public func qualified(by detail: String) -> EncoderIdentity {
        EncoderIdentity(digest: SHA256.hexDigest(of: Data("\(digest)\n\(detail)".utf8)))
    }

    /// This identity for vectors computed with `precision` products. int8 products give other
    /// vectors (cosine about 0.999 to fp32's), so int8 is part of the identity and a store
    /// written with them is kept apart. fp32 and bf16 keep the plain identity, as before int8
    /// existed: their vectors differ by rounding only, and existing stores stay valid. The int8
    /// scheme is named too, so that stores of earlier int8 schemes (symmetric rows; before that,
    /// no outliers in fp32) are kept apart from this one's (u8 rows with a zero point, each row's
    /// two largest entries in fp32).
    public func forProducts(_ precision: Precision) -> EncoderIdentity {
        precision == .int8 ? qualified(by: "products int8, u8 rows with a zero point, two outliers per row in fp32") : self
    }

    private init(digest: String) { self.digest = digest }

    /// The first 16 hex digits (short enough to name a folder).
    public var description: String { String(digest.prefix(16)) }
}
