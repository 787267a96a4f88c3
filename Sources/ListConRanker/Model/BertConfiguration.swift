/// The parts of a Hugging Face BERT `config.json` the encoder (and training) needs. Read a file
/// with ``init(contentsOf:)`` or ``ModelDirectory/configuration()``, the one reader, which also
/// checks that the encoder can run it.
public struct BertConfiguration: Sendable, Equatable, Decodable {
    /// Vocabulary size (rows of the word embedding).
    public var vocabularySize: Int
    /// Width of the hidden states.
    public var hiddenSize: Int
    /// Number of transformer layers.
    public var layerCount: Int
    /// Attention heads per layer.
    public var headCount: Int
    /// Width of the feed-forward layer.
    public var intermediateSize: Int
    /// Longest sequence the position embedding covers.
    public var maxPositionEmbeddings: Int
    /// Rows of the token-type embedding.
    public var typeVocabularySize: Int
    /// LayerNorm epsilon.
    public var layerNormEps: Float
    /// Activation of the feed-forward layer (only the erf GELU, "gelu", is supported).
    public var hiddenActivation: String
    /// Position embedding kind (only "absolute" is supported).
    public var positionEmbeddingType: String
    /// `hidden_dropout_prob`: dropout after embeddings, attention output and feed-forward, in
    /// training (inference ignores it).
    public var hiddenDropoutProbability: Float
    /// `attention_probs_dropout_prob`: dropout of the attention probabilities, in training.
    public var attentionDropoutProbability: Float

    enum CodingKeys: String, CodingKey {
        case vocabularySize = "vocab_size", hiddenSize = "hidden_size", layerCount = "num_hidden_layers"
        case headCount = "num_attention_heads", intermediateSize = "intermediate_size"
        case maxPositionEmbeddings = "max_position_embeddings", typeVocabularySize = "type_vocab_size"
        case layerNormEps = "layer_norm_eps", hiddenActivation = "hidden_act"
        case positionEmbeddingType = "position_embedding_type", modelType = "model_type"
        case hiddenDropoutProbability = "hidden_dropout_prob", attentionDropoutProbability = "attention_probs_dropout_prob"
    }

    /// Decodes and validates a `config.json`; defaults follow transformers' `BertConfig`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabularySize = try c.decodeIfPresent(Int.self, forKey: .vocabularySize) ?? 30522
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? 768
        layerCount = try c.decodeIfPresent(Int.self, forKey: .layerCount) ?? 12
        headCount = try c.decodeIfPresent(Int.self, forKey: .headCount) ?? 12
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? 3072
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 512
        typeVocabularySize = try c.decodeIfPresent(Int.self, forKey: .typeVocabularySize) ?? 2
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? 1e-12
        hiddenActivation = try c.decodeIfPresent(String.self, forKey: .hiddenActivation) ?? "gelu"
        positionEmbeddingType = try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType) ?? "absolute"
        hiddenDropoutProbability = try c.decodeIfPresent(Float.self, forKey: .hiddenDropoutProbability) ?? 0.1
        attentionDropoutProbability = try c.decodeIfPresent(Float.self, forKey: .attentionDropoutProbability) ?? 0.1
    }

    /// Checks that the encoder can run this configuration; errors name `file`.
    func validate(file: String) throws {
        func fail(_ why: String) -> ModelError { .invalidConfiguration(file, why) }
        guard [vocabularySize, hiddenSize, layerCount, headCount, intermediateSize,
               maxPositionEmbeddings, typeVocabularySize].allSatisfy({ $0 > 0 }) else {
            throw fail("sizes must be positive")
        }
        guard hiddenSize % headCount == 0 else {
            throw fail("hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(headCount)")
        }
        guard hiddenActivation == "gelu" else {
            throw fail("hidden_act \"\(hiddenActivation)\" is not supported (only \"gelu\", the erf form)")
        }
        guard positionEmbeddingType == "absolute" else {
            throw fail("position_embedding_type \"\(positionEmbeddingType)\" is not supported (only \"absolute\")")
        }
    }
}
