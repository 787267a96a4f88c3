import Foundation

/// Mean-pooled BERT embeddings for any BERT model directory (`config.json`, encoder weights,
/// tokenizer files), as sentence-transformers computes them with mean pooling — the same
/// vectors ListConRanker feeds its `linear_in_embedding`.
public final class TextEmbedder: @unchecked Sendable {
    /// The encoder.
    public var encoder: BertEncoder { batched.encoder }
    /// Longest text in tokens (`[CLS]` and `[SEP]` included); longer texts are truncated.
    public var maxLength: Int { batched.maxLength }
    private let batched: BatchedEncoder
    private let lock = NSLock()
    private var statistics = EncoderStatistics()

    /// Loads a BERT directory onto `device`. `maxLength` defaults to the encoder's positions (at
    /// most 512).
    public init(modelDirectory: URL, precision: Precision = .fp32, maxLength: Int? = nil,
                batchTokens: Int = RerankerOptions.defaultEncoderBatchTokens, device: Device = .cpu) throws {
        let files = try ModelFiles(directory: modelDirectory)
        let encoder = try files.loadEncoder(precision: precision, device: device)
        let positions = encoder.configuration.maxPositionEmbeddings
        let length = maxLength ?? min(512, positions)
        guard length >= 2, length <= positions else {
            throw ModelError.invalidInput("maxLength must be between 2 and the encoder's \(positions) positions, got \(length)")
        }
        batched = BatchedEncoder(encoder: encoder, tokenizer: try files.loadTokenizer(), maxLength: length,
                                 batchTokens: max(batchTokens, 1))
    }

    /// One embedding per text (`hidden_size` floats each), in text order.
    public func embeddings(for texts: [String]) throws -> [[Float]] {
        try lock.withLock { try batched.pooledRows(texts, statistics: &statistics) }
    }
}
