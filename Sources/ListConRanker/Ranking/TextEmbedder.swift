import Foundation

/// Mean-pooled BERT embeddings for any BERT model directory (`config.json`, encoder weights,
/// tokenizer files), as sentence-transformers computes them with mean pooling — the same
/// vectors ListConRanker feeds its `linear_in_embedding`.
public final class TextEmbedder: @unchecked Sendable {
    /// The encoder.
    public let encoder: BertEncoder
    /// Longest text in tokens (`[CLS]` and `[SEP]` included); longer texts are truncated.
    public let maxLength: Int
    private let tokenizer: BertTokenizer
    private let batchTokens: Int
    private let lock = NSLock()

    /// Loads a BERT directory. `maxLength` defaults to the encoder's positions (at most 512).
    public init(modelDirectory: URL, precision: Precision = .fp32, maxLength: Int? = nil,
                batchTokens: Int = RerankerOptions.defaultEncoderBatchTokens) throws {
        let files = try ModelFiles(directory: modelDirectory)
        encoder = try files.loadEncoder(precision: precision)
        tokenizer = try files.loadTokenizer()
        let positions = encoder.configuration.maxPositionEmbeddings
        let length = maxLength ?? min(512, positions)
        guard length >= 2, length <= positions else {
            throw ModelError.invalidInput("maxLength must be between 2 and the encoder's \(positions) positions, got \(length)")
        }
        self.maxLength = length
        self.batchTokens = max(batchTokens, 1)
    }

    /// One embedding per text (`hidden_size` floats each), in text order.
    public func embeddings(for texts: [String]) throws -> [[Float]] {
        try lock.withLock {
            let h = encoder.configuration.hiddenSize
            var out = [[Float]]()
            out.reserveCapacity(texts.count)
            var batch = [[Int32]]()
            var tokens = 0
            func flush() throws {
                guard !batch.isEmpty else { return }
                let pooled = try encoder.meanPooled(batch).scalars
                for i in 0..<batch.count { out.append(Array(pooled[i * h..<(i + 1) * h])) }
                batch.removeAll(keepingCapacity: true)
                tokens = 0
            }
            for text in texts {
                let ids = tokenizer.encode(text, maxLength: maxLength).ids
                if tokens + ids.count > batchTokens { try flush() }
                batch.append(ids)
                tokens += ids.count
            }
            try flush()
            return out
        }
    }
}
