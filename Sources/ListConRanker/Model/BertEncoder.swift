/// A BERT encoder (Hugging Face `BertModel` without the pooler), run on packed tokens:
/// the tokens of many texts are stacked into one `[tokens, hidden]` matrix for the dense
/// layers (rows padded only up to a multiple of 32, see ``RowPadding``), and attention runs
/// per text, so a text's result does not depend on what it is batched with.
///
/// The forward is written once (``BertEncoderNetwork``) against the operations of a
/// ``ComputeBackend``; the ``Device`` picks the backend.
public final class BertEncoder: Sendable {
    /// The configuration the encoder was built from.
    public let configuration: BertConfiguration
    /// The precision of the matrix products.
    public let precision: Precision
    /// Where the encoder runs.
    public let device: Device
    private let network: any MeanPoolingEncoder

    /// Keys of a BERT checkpoint the encoder does not use: the heads transformers puts on top
    /// of the encoder (the pooler, pre-training, classification and QA heads). Mean pooling
    /// replaces them; any other unread key is an error.
    public static let unusedKeyPrefixes = ["pooler.", "cls.", "classifier.", "qa_outputs."]

    /// Binds every weight by its Hugging Face key (`embeddings.word_embeddings.weight`,
    /// `encoder.layer.N.attention.self.query.weight`, …), checking each shape, and prepares the
    /// weights on `device`. Every key must be bound, except those under ``unusedKeyPrefixes``.
    public init(configuration: BertConfiguration, weights: any WeightSource, precision: Precision = .fp32,
                device: Device = .cpu) throws {
        self.configuration = configuration
        self.precision = precision
        self.device = device
        network = try ComputeBackends.select(
            device, precision: precision,
            cpu: { try BertEncoderNetwork(configuration: configuration, weights: weights, backend: $0) },
            cuda: { try BertEncoderNetwork(configuration: configuration, weights: weights, backend: $0) })
    }

    /// Mean-pooled last hidden states, one row per text: `[texts, hidden]`.
    /// Each text is a full token-id sequence (`[CLS] … [SEP]`), already truncated.
    public func meanPooled(_ texts: [[Int32]]) throws -> Tensor {
        let c = configuration
        for ids in texts {
            guard !ids.isEmpty else { throw ModelError.invalidInput("a text has no tokens (not even [CLS] [SEP])") }
            guard ids.count <= c.maxPositionEmbeddings else {
                throw ModelError.sequenceTooLong(tokens: ids.count, maximum: c.maxPositionEmbeddings)
            }
            for id in ids where id < 0 || Int(id) >= c.vocabularySize {
                throw ModelError.tokenOutOfRange(id: id, vocabularySize: c.vocabularySize)
            }
        }
        guard !texts.isEmpty else { return Tensor(zeros: [0, c.hiddenSize]) }
        return try network.meanPooled(texts)
    }
}

/// An encoder network on some backend, seen from the facade: validated texts in, pooled rows out.
protocol MeanPoolingEncoder: Sendable {
    /// `[texts, hidden]` on the host. Texts are non-empty, within the positions and the vocabulary.
    func meanPooled(_ texts: [[Int32]]) throws -> Tensor
}

/// The encoder's weights on a backend's device, and its one forward pass.
struct BertEncoderNetwork<Backend: ComputeBackend>: MeanPoolingEncoder {
    let configuration: BertConfiguration
    let backend: Backend
    let wordEmbeddings: Backend.Table       // [vocab, hidden]
    let positionEmbeddings: Backend.Table   // [positions, hidden]
    let tokenType0: Backend.Table           // [1, hidden], row 0 of the token-type embedding
    let embeddingNorm: Backend.Normalization
    let layers: [Layer]

    /// One post-norm transformer layer with BERT's key names.
    struct Layer: Sendable {
        let qkv: Backend.Product              // query, key and value fused: [3·hidden, hidden]
        let attentionOutput: Backend.Product
        let attentionNorm: Backend.Normalization
        let intermediate: Backend.Product     // GELU fused
        let output: Backend.Product
        let outputNorm: Backend.Normalization
    }

    init(configuration c: BertConfiguration, weights source: any WeightSource, backend: Backend) throws {
        let weights = KeyAccountingWeights(source)
        configuration = c
        self.backend = backend
        let h = c.hiddenSize
        wordEmbeddings = try backend.table(weights.tensor("embeddings.word_embeddings.weight", shape: [c.vocabularySize, h]))
        positionEmbeddings = try backend.table(weights.tensor("embeddings.position_embeddings.weight",
                                                              shape: [c.maxPositionEmbeddings, h]))
        let tokenTypes = try weights.tensor("embeddings.token_type_embeddings.weight", shape: [c.typeVocabularySize, h])
        tokenType0 = try backend.table(Tensor(shape: [1, h], scalars: Array(tokenTypes.scalars.prefix(h))))
        embeddingNorm = try weights.layerNorm("embeddings.LayerNorm", width: h, eps: c.layerNormEps, on: backend)
        layers = try (0..<c.layerCount).map { i in
            let p = "encoder.layer.\(i)"
            // One [3h, h] product instead of three: the rows are q, k, v in turn.
            var qkvWeight = [Float](), qkvBias = [Float]()
            for part in ["query", "key", "value"] {
                qkvWeight += try weights.tensor("\(p).attention.self.\(part).weight", shape: [h, h]).scalars
                qkvBias += try weights.tensor("\(p).attention.self.\(part).bias", shape: [h]).scalars
            }
            return Layer(
                // Q, K and V feed only the attention products (in bf16 they stay bf16, as PyTorch's bf16 does).
                qkv: try backend.product(weight: Tensor(shape: [3 * h, h], scalars: qkvWeight),
                                         bias: Tensor(shape: [3 * h], scalars: qkvBias), activation: .none,
                                         feedsProduct: true),
                attentionOutput: try weights.product("\(p).attention.output.dense", out: h, in: h, on: backend),
                attentionNorm: try weights.layerNorm("\(p).attention.output.LayerNorm", width: h, eps: c.layerNormEps,
                                                     on: backend),
                // The GELU output feeds the next product only.
                intermediate: try weights.product("\(p).intermediate.dense", out: c.intermediateSize, in: h, on: backend,
                                                  activation: .gelu, feedsProduct: true),
                output: try weights.product("\(p).output.dense", out: h, in: c.intermediateSize, on: backend),
                outputNorm: try weights.layerNorm("\(p).output.LayerNorm", width: h, eps: c.layerNormEps, on: backend))
        }
        try weights.requireEveryKeyBound(exceptUnder: BertEncoder.unusedKeyPrefixes)
    }

    func meanPooled(_ texts: [[Int32]]) throws -> Tensor {
        var segments = [Range<Int>]()
        var total = 0
        for ids in texts {
            segments.append(total..<total + ids.count)
            total += ids.count
        }
        let hidden = try lastHiddenStates(texts, segments: segments, totalTokens: total)   // [N', h]
        let pooled = try backend.meanPooled(hidden, segments: segments)                    // [texts, h]
        return try backend.download(pooled, rows: texts.count)
    }

    /// The last hidden states of every token of every text, stacked (`[Σ tokens, hidden]`), then
    /// padding rows up to ``RowPadding/rows(_:)``.
    private func lastHiddenStates(_ texts: [[Int32]], segments: [Range<Int>], totalTokens: Int) throws -> Backend.Matrix {
        let c = configuration, h = c.hiddenSize
        // word + token type 0 + position embeddings, then LayerNorm: [N', h], where the rows past
        // the N tokens are padding that no token attends to.
        // x: the Float32 residual stream; input: what the next product reads (in bf16, x rounded
        // to BFloat16 by the LayerNorm that wrote x, so no product converts its input).
        var (x, input) = try backend.normalizedTokenEmbeddings(texts, words: wordEmbeddings, tokenType: tokenType0,
                                                               positions: positionEmbeddings, by: embeddingNorm,
                                                               paddedRows: RowPadding.rows(totalTokens))
        // Each activation is consumed by its last reader, so at most one layer's worth lives at once.
        for layer in layers {
            let qkv = try backend.apply(layer.qkv, to: consume input)                        // [N', 3h]
            let context = try backend.selfAttention(qkv: consume qkv, width: h, heads: c.headCount,
                                                    segments: segments, firstRowSeesOnlyItself: false)
            (x, input) = try backend.normalizedWithProductInput(try backend.apply(layer.attentionOutput, to: consume context),
                                                                residual: x, by: layer.attentionNorm)
            let inner = try backend.apply(layer.intermediate, to: consume input)             // [N', intermediate], GELU applied
            (x, input) = try backend.normalizedWithProductInput(try backend.apply(layer.output, to: consume inner),
                                                                residual: x, by: layer.outputNorm)
        }
        return x
    }
}
