/// What one BERT layer's forward keeps for its backward (N tokens, H hidden, F intermediate).
/// Dropout masks exist only when that dropout is on; the buffers they follow then hold values
/// after dropout. `input` and `output` are lent by the caller (the previous layer's output, the
/// next layer's input), so that recomputation can run a layer between buffers it keeps.
final class EncoderLayerActivations {
    var input: FloatBuffer                 // [N, H]  the layer's input
    let qkv: FloatBuffer                   // [N, 3H] query, key, value projections per row
    let probabilities: FloatBuffer         // [Σ heads·L²] attention softmax per text and head
    let probabilityMask: FloatBuffer?      // same layout: attention-probability dropout
    let context: FloatBuffer               // [N, H]  heads side by side, before attention.output.dense
    let attentionMask: FloatBuffer?        // [N, H]  hidden dropout after attention.output.dense
    let residual1: FloatBuffer             // [N, H]  input + dropout(dense(context)): the LayerNorm's input
    let mean1: FloatBuffer                 // [N]
    let rstd1: FloatBuffer                 // [N]
    let normed1: FloatBuffer               // [N, H]  attention.output.LayerNorm output
    let preActivation: FloatBuffer         // [N, F]  intermediate.dense(normed1)
    let activated: FloatBuffer             // [N, F]  GELU(preActivation)
    let outputMask: FloatBuffer?           // [N, H]  hidden dropout after output.dense
    let residual2: FloatBuffer             // [N, H]  normed1 + dropout(output.dense(activated))
    let mean2: FloatBuffer                 // [N]
    let rstd2: FloatBuffer                 // [N]
    var output: FloatBuffer                // [N, H]  output.LayerNorm output

    init(input: FloatBuffer, output: FloatBuffer, tokens n: Int, shape: EncoderShape, probabilityCount: Int,
         dropout: EncoderDropout) {
        let h = shape.hidden, f = shape.intermediate
        self.input = input
        qkv = FloatBuffer(count: n * 3 * h)
        probabilities = FloatBuffer(count: probabilityCount)
        probabilityMask = dropout.attention > 0 ? FloatBuffer(count: probabilityCount) : nil
        context = FloatBuffer(count: n * h)
        attentionMask = dropout.hidden > 0 ? FloatBuffer(count: n * h) : nil
        residual1 = FloatBuffer(count: n * h)
        mean1 = FloatBuffer(count: n)
        rstd1 = FloatBuffer(count: n)
        normed1 = FloatBuffer(count: n * h)
        preActivation = FloatBuffer(count: n * f)
        activated = FloatBuffer(count: n * f)
        outputMask = dropout.hidden > 0 ? FloatBuffer(count: n * h) : nil
        residual2 = FloatBuffer(count: n * h)
        mean2 = FloatBuffer(count: n)
        rstd2 = FloatBuffer(count: n)
        self.output = output
    }

    /// Elements this layer allocates itself (everything but the lent `input` and `output`):
    /// the formula ``EncoderActivationMemory`` reports with.
    static func ownElements(tokens n: Int, shape: EncoderShape, probabilityCount: Int, dropout: EncoderDropout) -> Int {
        let h = shape.hidden, f = shape.intermediate
        let masks = (dropout.attention > 0 ? probabilityCount : 0) + (dropout.hidden > 0 ? 2 * n * h : 0)
        return n * 3 * h + probabilityCount + n * h + n * h + 2 * n + n * h + 2 * n * f + n * h + 2 * n + masks
    }

    /// Elements of the buffers this layer holds, lent ones excluded (to check ``ownElements``).
    var allocatedOwnElements: Int {
        [qkv, probabilities, context, residual1, mean1, rstd1, normed1, preActivation, activated, residual2, mean2, rstd2]
            .reduce(0) { $0 + $1.count }
            + [probabilityMask, attentionMask, outputMask].reduce(0) { $0 + ($1?.count ?? 0) }
    }
}

/// The result of ``EncoderNetwork/forward(_:parameters:dropoutSeed:recompute:)``: the pooled
/// vectors, and what the backward needs. Without recomputation that is every layer's
/// activations; with it, only each layer's input (the backward re-runs each layer, drawing the
/// same dropout masks from the same seed).
public final class EncoderForwardPass: @unchecked Sendable {
    /// The texts that went in (token ids, `[CLS] … [SEP]`).
    public let texts: [[Int32]]
    /// Whether the layers' activations are recomputed in the backward.
    public let recompute: Bool
    /// The seed the dropout masks were drawn from.
    public let dropoutSeed: UInt64
    /// Mean-pooled last hidden states, one row per text: `[texts, H]`, row-major.
    public var pooled: [Float] { pooledBuffer.array }
    /// Bytes held for the backward (``EncoderActivationMemory/savedBytes``).
    public var savedActivationBytes: Int {
        let buffers = [embeddingSum, embeddingMean, embeddingRstd] + (embeddingMask.map { [$0] } ?? []) + layerInputs
        return 4 * (buffers.reduce(0) { $0 + $1.count } + layers.reduce(0) { $0 + $1.allocatedOwnElements })
    }

    let segments: [Range<Int>]              // each text's rows in the packed matrices
    let embeddingSum: FloatBuffer           // [N, H] word + token type 0 + position: the LayerNorm's input
    let embeddingMean: FloatBuffer          // [N]
    let embeddingRstd: FloatBuffer          // [N]
    let embeddingMask: FloatBuffer?         // [N, H] hidden dropout after the embedding LayerNorm
    /// Each layer's input, `[N, H]` (layer 0's is the embeddings' output), and last the final
    /// hidden states when the layers are kept; with recomputation only the layer inputs.
    let layerInputs: [FloatBuffer]
    let layers: [EncoderLayerActivations]   // empty with recomputation
    let pooledBuffer: FloatBuffer           // [texts, H]

    init(texts: [[Int32]], segments: [Range<Int>], shape: EncoderShape, dropout: EncoderDropout, recompute: Bool,
         dropoutSeed: UInt64) {
        let n = segments.last?.upperBound ?? 0, h = shape.hidden
        self.texts = texts
        self.segments = segments
        self.recompute = recompute
        self.dropoutSeed = dropoutSeed
        embeddingSum = FloatBuffer(count: n * h)
        embeddingMean = FloatBuffer(count: n)
        embeddingRstd = FloatBuffer(count: n)
        embeddingMask = dropout.hidden > 0 ? FloatBuffer(count: n * h) : nil
        let probabilityCount = EncoderAttentionOps.probabilityCount(segments: segments, heads: shape.heads)
        if recompute {
            layerInputs = (0..<shape.layers).map { _ in FloatBuffer(count: n * h) }
            layers = []
        } else {
            let inputs = (0...shape.layers).map { _ in FloatBuffer(count: n * h) }
            layerInputs = inputs
            layers = (0..<shape.layers).map { l in
                EncoderLayerActivations(input: inputs[l], output: inputs[l + 1], tokens: n, shape: shape,
                                        probabilityCount: probabilityCount, dropout: dropout)
            }
        }
        pooledBuffer = FloatBuffer(count: texts.count * h)
    }
}
