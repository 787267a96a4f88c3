import ListConRanker

/// The dimensions of a BERT encoder as training sees them (Hugging Face `BertModel` without the
/// pooler), checked once so the forward and backward can trust them.
public struct EncoderShape: Sendable, Equatable {
    /// Rows of the word embedding.
    public let vocabulary: Int
    /// Width of the hidden states (H).
    public let hidden: Int
    /// Transformer layers.
    public let layers: Int
    /// Attention heads per layer; `hidden` is a multiple of it.
    public let heads: Int
    /// Width of the feed-forward layer (F).
    public let intermediate: Int
    /// Rows of the position embedding: the longest text.
    public let maxPositions: Int
    /// Rows of the token-type embedding (only row 0 is used: every text is a single segment).
    public let tokenTypes: Int
    /// Epsilon of every LayerNorm (`layer_norm_eps`).
    public let layerNormEpsilon: Float

    /// Width of one attention head.
    public var headWidth: Int { hidden / heads }

    /// Checks the sizes; throws unless all are positive and `hidden` is a multiple of `heads`.
    public init(vocabulary: Int, hidden: Int, layers: Int, heads: Int, intermediate: Int, maxPositions: Int,
                tokenTypes: Int = 2, layerNormEpsilon: Float = 1e-12) throws {
        guard [vocabulary, hidden, layers, heads, intermediate, maxPositions, tokenTypes].allSatisfy({ $0 > 0 }) else {
            throw TrainingError.invalidInput("encoder sizes must be positive")
        }
        guard hidden % heads == 0 else {
            throw TrainingError.invalidInput("hidden \(hidden) is not a multiple of heads \(heads)")
        }
        guard layerNormEpsilon.isFinite, layerNormEpsilon > 0 else {
            throw TrainingError.invalidInput("LayerNorm epsilon must be positive, got \(layerNormEpsilon)")
        }
        self.vocabulary = vocabulary
        self.hidden = hidden
        self.layers = layers
        self.heads = heads
        self.intermediate = intermediate
        self.maxPositions = maxPositions
        self.tokenTypes = tokenTypes
        self.layerNormEpsilon = layerNormEpsilon
    }

    /// The shape of a decoded `config.json`; throws for what the training code cannot run (an
    /// activation other than the erf GELU, relative positions, inconsistent sizes), as the
    /// inference encoder refuses them.
    public init(configuration c: BertConfiguration) throws {
        guard c.hiddenActivation == "gelu" else {
            throw TrainingError.invalidInput("hidden_act \"\(c.hiddenActivation)\" is not supported (only \"gelu\", the erf form)")
        }
        guard c.positionEmbeddingType == "absolute" else {
            throw TrainingError.invalidInput("position_embedding_type \"\(c.positionEmbeddingType)\" is not supported")
        }
        try self.init(vocabulary: c.vocabularySize, hidden: c.hiddenSize, layers: c.layerCount, heads: c.headCount,
                      intermediate: c.intermediateSize, maxPositions: c.maxPositionEmbeddings,
                      tokenTypes: c.typeVocabularySize, layerNormEpsilon: c.layerNormEps)
    }
}

/// Dropout probabilities of the encoder in training, where `BertModel` applies them: `hidden`
/// (`hidden_dropout_prob`) on the embeddings' output and on the outputs of
/// `attention.output.dense` and `output.dense` before their residual adds; `attention`
/// (`attention_probs_dropout_prob`) on the attention probabilities.
public struct EncoderDropout: Sendable, Equatable {
    /// `hidden_dropout_prob`.
    public let hidden: Float
    /// `attention_probs_dropout_prob`.
    public let attention: Float

    /// No dropout (evaluation, and the gradient checks against PyTorch in eval mode).
    public static let off = EncoderDropout(checkedHidden: 0, attention: 0)

    /// Throws unless both probabilities are in [0, 1).
    public init(hidden: Float, attention: Float) throws {
        guard (0..<1).contains(hidden), (0..<1).contains(attention) else {
            throw TrainingError.invalidInput("dropout probabilities must be in [0, 1), got hidden \(hidden), attention \(attention)")
        }
        self.init(checkedHidden: hidden, attention: attention)
    }

    private init(checkedHidden hidden: Float, attention: Float) {
        self.hidden = hidden
        self.attention = attention
    }

    /// Whether any dropout is applied (masks exist only then).
    public var isOn: Bool { hidden > 0 || attention > 0 }
}
