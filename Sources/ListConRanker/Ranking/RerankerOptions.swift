/// How a ``Reranker`` loads and runs its model.
public struct RerankerOptions: Sendable, Equatable {
    /// Precision of the matrix products (``Precision/fp32`` reproduces PyTorch fp32 to 1e-4).
    public var precision: Precision
    /// Longest text, in tokens including `[CLS]` and `[SEP]`; longer texts are truncated, as the
    /// original's tokenizer call does (`truncation=True, max_length=512`).
    public var maxLength: Int
    /// Tokens the encoder takes per batch. Texts are encoded in batches of at most this many
    /// tokens (a longer single text is its own batch), which bounds memory for long lists.
    public var encoderBatchTokens: Int
    /// The default ``encoderBatchTokens``: 6,144. Measured on the full-size model in bf16 (1 + 100
    /// passages, alternating passes), 6,144 ran about 10% faster than 8,192 and 4,096 25%
    /// slower, and it keeps 1 + 1000 passages under 1.2 GB.
    public static let defaultEncoderBatchTokens = 6144
    /// Layers the list transformer must have (the original's `list_transformer_layer`; 2 when
    /// published). Nil takes the number `list_transformer.pt` holds; a number that disagrees
    /// with the file is an error when the model loads.
    public var listTransformerLayers: Int?
    /// Where the model runs: ``Device/cpu`` (the default), or a CUDA GPU.
    public var device: Device

    /// Options with the published model's defaults: fp32, 512 tokens, list layers as stored, on
    /// the CPU.
    public init(precision: Precision = .fp32, maxLength: Int = 512, encoderBatchTokens: Int = RerankerOptions.defaultEncoderBatchTokens,
                listTransformerLayers: Int? = nil, device: Device = .cpu) {
        self.device = device
        self.precision = precision
        self.maxLength = maxLength
        self.encoderBatchTokens = encoderBatchTokens
        self.listTransformerLayers = listTransformerLayers
    }
}

/// One passage's place in a ranking.
public struct RankedPassage: Sendable, Equatable, Codable {
    /// Position of the passage in the input, from 0.
    public var index: Int
    /// Its score: a probability from conventional scoring; under iterative inference,
    /// probability plus the round in which it left (so only the order is meaningful).
    public var score: Float

    /// Creates a ranked passage.
    public init(index: Int, score: Float) {
        self.index = index
        self.score = score
    }
}

/// Counters of the encoder's work, for tests and benchmarks.
public struct EncoderStatistics: Sendable, Equatable {
    /// Texts encoded.
    public var texts = 0
    /// Encoder batches run.
    public var batches = 0
    /// Tokens in the largest batch (bounded by ``RerankerOptions/encoderBatchTokens`` unless one
    /// text alone is longer).
    public var largestBatchTokens = 0
}
