/// A BERT encoder (Hugging Face `BertModel` without the pooler), run on packed tokens:
/// the tokens of many texts are stacked into one `[tokens, hidden]` matrix for the dense
/// layers (rows padded only up to a multiple of 32, see ``RowPadding``), and attention runs
/// per text, so a text's result does not depend on what it is batched with.
public final class BertEncoder: Sendable {
    /// The configuration the encoder was built from.
    public let configuration: BertConfiguration
    /// The precision of the matrix products.
    public let precision: Precision

    private let wordEmbeddings: Tensor       // [vocab, hidden]
    private let positionEmbeddings: Tensor   // [positions, hidden]
    private let tokenType0: [Float]          // [hidden], row 0 of the token-type embedding
    private let embeddingNorm: LayerNormParameters
    private let layers: [Layer]

    /// Keys of a BERT checkpoint the encoder does not use: the heads transformers puts on top
    /// of the encoder (the pooler, pre-training, classification and QA heads). Mean pooling
    /// replaces them; any other unread key is an error.
    public static let unusedKeyPrefixes = ["pooler.", "cls.", "classifier.", "qa_outputs."]

    /// One post-norm transformer layer with BERT's key names.
    struct Layer: Sendable {
        let qkv: Linear            // query, key and value fused: [3·hidden, hidden]
        let attentionOutput: Linear
        let attentionNorm: LayerNormParameters
        let intermediate: Linear   // GELU fused
        let output: Linear
        let outputNorm: LayerNormParameters
    }

    /// Binds every weight by its Hugging Face key (`embeddings.word_embeddings.weight`,
    /// `encoder.layer.N.attention.self.query.weight`, …), checking each shape. Every key must
    /// be bound, except those under ``unusedKeyPrefixes``.
    public init(configuration c: BertConfiguration, weights source: any WeightSource, precision: Precision = .fp32) throws {
        let weights = KeyAccountingWeights(source)
        configuration = c
        self.precision = precision
        let h = c.hiddenSize
        wordEmbeddings = try weights.tensor("embeddings.word_embeddings.weight", shape: [c.vocabularySize, h]).toFloat32()
        positionEmbeddings = try weights.tensor("embeddings.position_embeddings.weight",
                                                shape: [c.maxPositionEmbeddings, h]).toFloat32()
        tokenType0 = Array(try weights.tensor("embeddings.token_type_embeddings.weight",
                                              shape: [c.typeVocabularySize, h]).scalars.prefix(h))
        embeddingNorm = try weights.layerNorm("embeddings.LayerNorm", width: h, eps: c.layerNormEps)
        layers = try (0..<c.layerCount).map { i in
            let p = "encoder.layer.\(i)"
            // One [3h, h] product instead of three: the rows are q, k, v in turn.
            var qkvWeight = [Float](), qkvBias = [Float]()
            for part in ["query", "key", "value"] {
                qkvWeight += try weights.tensor("\(p).attention.self.\(part).weight", shape: [h, h]).scalars
                qkvBias += try weights.tensor("\(p).attention.self.\(part).bias", shape: [h]).scalars
            }
            return Layer(
                // In bf16, Q, K and V stay bf16 for the attention products (as PyTorch's bf16 does).
                qkv: try Linear(weight: Tensor(shape: [3 * h, h], scalars: qkvWeight),
                                bias: Tensor(shape: [3 * h], scalars: qkvBias), precision: precision,
                                bf16Output: precision == .bf16),
                attentionOutput: try weights.linear("\(p).attention.output.dense", out: h, in: h, precision: precision),
                attentionNorm: try weights.layerNorm("\(p).attention.output.LayerNorm", width: h, eps: c.layerNormEps),
                // In bf16 the GELU output stays bf16: the next product reads it without a conversion.
                intermediate: try weights.linear("\(p).intermediate.dense", out: c.intermediateSize, in: h,
                                                 precision: precision, fuseGELU: true, bf16Output: precision == .bf16),
                output: try weights.linear("\(p).output.dense", out: h, in: c.intermediateSize, precision: precision),
                outputNorm: try weights.layerNorm("\(p).output.LayerNorm", width: h, eps: c.layerNormEps))
        }
        try weights.requireEveryKeyBound(exceptUnder: Self.unusedKeyPrefixes)
    }

    /// Mean-pooled last hidden states, one row per text: `[texts, hidden]`.
    /// Each text is a full token-id sequence (`[CLS] … [SEP]`), already truncated.
    public func meanPooled(_ texts: [[Int32]]) throws -> Tensor {
        let hidden = try paddedLastHiddenStates(texts)
        let h = configuration.hiddenSize
        var pooled = [Float](repeating: 0, count: texts.count * h)
        var row = 0
        try hidden.withFloats { all in
            for (i, ids) in texts.enumerated() {
                let slice = Tensor(shape: [ids.count, h], scalars: Array(all[row * h..<(row + ids.count) * h]))
                let mean = try Kernels.maskedMean(slice, mask: Array(repeating: true, count: ids.count)).scalars
                pooled.replaceSubrange(i * h..<(i + 1) * h, with: mean)
                row += ids.count
            }
        }
        return Tensor(shape: [texts.count, h], scalars: pooled)
    }

    /// The last hidden states of every token of every text, stacked (`[Σ tokens, hidden]`), then
    /// padding rows up to ``RowPadding/rows(_:)``.
    private func paddedLastHiddenStates(_ texts: [[Int32]]) throws -> Tensor {
        let c = configuration, h = c.hiddenSize
        guard !texts.isEmpty else { return Tensor(zeros: [0, h]) }
        var segments = [Range<Int>]()
        var total = 0
        for ids in texts {
            guard !ids.isEmpty else { throw ModelError.invalidInput("a text has no tokens (not even [CLS] [SEP])") }
            guard ids.count <= c.maxPositionEmbeddings else {
                throw ModelError.sequenceTooLong(tokens: ids.count, maximum: c.maxPositionEmbeddings)
            }
            segments.append(total..<total + ids.count)
            total += ids.count
        }
        // x: the Float32 residual stream; input: what the next product reads (in bf16, x rounded
        // to BFloat16 by the LayerNorm that wrote x, so no product converts its input).
        var (x, input) = try embed(texts, totalTokens: total)        // [N', h], N' = N padded
        // Each activation is consumed by its last reader, so at most one layer's worth lives at once.
        for layer in layers {
            let qkv = try layer.qkv(consume input)                       // [N', 3h]
            let context = try Kernels.packedSelfAttention(qkv: consume qkv, width: h, heads: c.headCount,
                                                          segments: segments)
            (x, input) = try layer.attentionNorm.normalizedWithProductInput(try layer.attentionOutput(consume context),
                                                                            residual: x, precision: precision)
            let inner = try layer.intermediate(consume input)            // [N', intermediate], GELU applied
            (x, input) = try layer.outputNorm.normalizedWithProductInput(try layer.output(consume inner),
                                                                         residual: x, precision: precision)
        }
        return x
    }

    /// word + token type 0 + position embeddings, then LayerNorm: `[N', h]`, where the rows
    /// past the N tokens are padding that no token attends to; with the first product's input
    /// (see ``LayerNormParameters/normalizedWithProductInput(_:residual:precision:)``).
    private func embed(_ texts: [[Int32]], totalTokens: Int) throws -> (normalized: Tensor, productInput: Tensor) {
        let h = configuration.hiddenSize, vocab = configuration.vocabularySize
        let rows = RowPadding.rows(totalTokens)
        var out = Tensor(zeros: [rows, h])   // rows past the tokens stay zero
        var row = 0
        try out.withMutableFloats { o in
            try wordEmbeddings.withFloats { words in
                try positionEmbeddings.withFloats { positions in
                    for ids in texts {
                        for (position, id) in ids.enumerated() {
                            guard id >= 0, Int(id) < vocab else { throw ModelError.tokenOutOfRange(id: id, vocabularySize: vocab) }
                            let dst = row * h, w = Int(id) * h, p = position * h
                            for j in 0..<h { o[dst + j] = (words[w + j] + tokenType0[j]) + positions[p + j] }
                            row += 1
                        }
                    }
                }
            }
        }
        return try embeddingNorm.normalizedWithProductInput(out, precision: precision)
    }
}
