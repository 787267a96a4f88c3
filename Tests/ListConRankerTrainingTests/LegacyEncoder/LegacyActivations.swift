// The CPU encoder's forward and backward as they were before they became generic over
// `TrainingBackend` (issue 30, stage 2), kept only here: `EncoderBackendSeamTests` checks that the
// generic pass on `CPUTrainingBackend` gives these results bit for bit. Renamed (`Legacy…`) so
// that both live in one test build; otherwise unchanged.
@testable import ListConRankerTraining

/// The outputs of one layer's matrix products that its backward needs, and the sums formed
/// from them (N tokens, H hidden, F intermediate): what ``EncoderRecomputation/attention`` keeps
/// per layer, so the backward runs none of the layer's weight products again.
final class LegacyLayerProducts {
    let qkv: FloatBuffer                   // [N, 3H] query, key, value projections per row
    let context: FloatBuffer               // [N, H]  heads side by side, before attention.output.dense
    let residual1: FloatBuffer             // [N, H]  input + dropout(dense(context)): the first LayerNorm's input
    let preActivation: FloatBuffer         // [N, F]  intermediate.dense(normed1)
    let residual2: FloatBuffer             // [N, H]  normed1 + dropout(output.dense(activated))
    let mean2: FloatBuffer                 // [N]     output.LayerNorm statistics of residual2
    let rstd2: FloatBuffer                 // [N]

    init(tokens n: Int, shape: EncoderShape) {
        let h = shape.hidden
        qkv = FloatBuffer(count: n * 3 * h)
        context = FloatBuffer(count: n * h)
        residual1 = FloatBuffer(count: n * h)
        preActivation = FloatBuffer(count: n * shape.intermediate)
        residual2 = FloatBuffer(count: n * h)
        mean2 = FloatBuffer(count: n)
        rstd2 = FloatBuffer(count: n)
    }

    /// Elements of its buffers.
    static func elements(tokens n: Int, shape: EncoderShape) -> Int { n * (6 * shape.hidden + shape.intermediate) + 2 * n }

    var allocatedElements: Int {
        [qkv, context, residual1, preActivation, residual2, mean2, rstd2].reduce(0) { $0 + $1.count }
    }
}

/// What one BERT layer's forward keeps for its backward (N tokens, H hidden, F intermediate).
/// Dropout masks exist only when that dropout is on; the buffers they follow then hold values
/// after dropout. `input` and `output` are lent by the caller (the previous layer's output, the
/// next layer's input), so that recomputation can run a layer between buffers it keeps; so are
/// the `products` when the caller keeps them per layer (``EncoderRecomputation/attention``). The
/// layer's own buffers are the ones that mode re-runs: attention probabilities, dropout masks,
/// the first LayerNorm and GELU.
final class LegacyLayerActivations {
    var input: FloatBuffer                 // [N, H]  the layer's input
    var products: LegacyLayerProducts     // qkv, context, residual1, preActivation, residual2, mean2, rstd2
    let probabilities: FloatBuffer         // [Σ heads·L²] attention softmax per text and head
    let probabilityMask: FloatBuffer?      // same layout: attention-probability dropout
    let attentionMask: FloatBuffer?        // [N, H]  hidden dropout after attention.output.dense
    let mean1: FloatBuffer                 // [N]     attention.output.LayerNorm statistics of residual1
    let rstd1: FloatBuffer                 // [N]
    let normed1: FloatBuffer               // [N, H]  attention.output.LayerNorm output
    let activated: FloatBuffer             // [N, F]  GELU(preActivation)
    let outputMask: FloatBuffer?           // [N, H]  hidden dropout after output.dense
    var output: FloatBuffer                // [N, H]  output.LayerNorm output

    var qkv: FloatBuffer { products.qkv }
    var context: FloatBuffer { products.context }
    var residual1: FloatBuffer { products.residual1 }
    var preActivation: FloatBuffer { products.preActivation }
    var residual2: FloatBuffer { products.residual2 }
    var mean2: FloatBuffer { products.mean2 }
    var rstd2: FloatBuffer { products.rstd2 }

    /// `products`: lent by the caller, or nil for the layer's own.
    init(input: FloatBuffer, output: FloatBuffer, products: LegacyLayerProducts? = nil, tokens n: Int,
         shape: EncoderShape, probabilityCount: Int, dropout: EncoderDropout) {
        let h = shape.hidden, f = shape.intermediate
        self.input = input
        self.products = products ?? LegacyLayerProducts(tokens: n, shape: shape)
        probabilities = FloatBuffer(count: probabilityCount)
        probabilityMask = dropout.attention > 0 ? FloatBuffer(count: probabilityCount) : nil
        attentionMask = dropout.hidden > 0 ? FloatBuffer(count: n * h) : nil
        mean1 = FloatBuffer(count: n)
        rstd1 = FloatBuffer(count: n)
        normed1 = FloatBuffer(count: n * h)
        activated = FloatBuffer(count: n * f)
        outputMask = dropout.hidden > 0 ? FloatBuffer(count: n * h) : nil
        self.output = output
    }

    /// Elements this layer allocates itself besides its products (everything but the lent
    /// `input`, `output` and `products`): with ``LegacyLayerProducts/elements(tokens:shape:)``
    /// the formula ``EncoderActivationMemory`` reports with.
    static func ownElements(tokens n: Int, shape: EncoderShape, probabilityCount: Int, dropout: EncoderDropout) -> Int {
        let h = shape.hidden, f = shape.intermediate
        let masks = (dropout.attention > 0 ? probabilityCount : 0) + (dropout.hidden > 0 ? 2 * n * h : 0)
        return probabilityCount + 2 * n + n * h + n * f + masks
    }

    /// Elements of the buffers this layer holds besides `input`, `output` and `products` (to
    /// check ``ownElements``).
    var allocatedOwnElements: Int {
        [probabilities, mean1, rstd1, normed1, activated].reduce(0) { $0 + $1.count }
            + [probabilityMask, attentionMask, outputMask].reduce(0) { $0 + ($1?.count ?? 0) }
    }
}

/// The result of ``EncoderNetwork/forward(_:parameters:dropoutSeed:recomputation:)``: the pooled
/// vectors, and what the backward needs. Without recomputation that is every layer's
/// activations; with it each layer's input, and with ``EncoderRecomputation/attention`` each
/// layer's products too (the backward re-runs the rest, drawing the same dropout
/// masks from the same seed).
final class LegacyForwardPass: @unchecked Sendable {
    /// The texts that went in (token ids, `[CLS] … [SEP]`).
    let texts: [[Int32]]
    /// What the forward kept, and so what the backward re-runs.
    let recomputation: EncoderRecomputation
    /// The seed the dropout masks were drawn from.
    let dropoutSeed: UInt64
    /// Mean-pooled last hidden states, one row per text: `[texts, H]`, row-major.
    var pooled: [Float] { pooledBuffer.array }
    /// Bytes held for the backward (``EncoderActivationMemory/savedBytes``).
    var savedActivationBytes: Int {
        let buffers = [embeddingSum, embeddingMean, embeddingRstd] + (embeddingMask.map { [$0] } ?? []) + layerInputs
        return 4 * (buffers.reduce(0) { $0 + $1.count }
            + layers.reduce(0) { $0 + $1.allocatedOwnElements + $1.products.allocatedElements }
            + products.reduce(0) { $0 + $1.allocatedElements })
    }

    let segments: [Range<Int>]              // each text's rows in the packed matrices
    let embeddingSum: FloatBuffer           // [N, H] word + token type 0 + position: the LayerNorm's input
    let embeddingMean: FloatBuffer          // [N]
    let embeddingRstd: FloatBuffer          // [N]
    let embeddingMask: FloatBuffer?         // [N, H] hidden dropout after the embedding LayerNorm
    /// Each layer's input, `[N, H]` (layer 0's is the embeddings' output), and last the final
    /// hidden states when the layers are kept; with recomputation only the layer inputs.
    let layerInputs: [FloatBuffer]
    let layers: [LegacyLayerActivations]   // every layer's activations; empty with recomputation
    let products: [LegacyLayerProducts]    // each layer's, with `.attention` only
    let pooledBuffer: FloatBuffer           // [texts, H]

    init(texts: [[Int32]], segments: [Range<Int>], shape: EncoderShape, dropout: EncoderDropout,
         recomputation: EncoderRecomputation, dropoutSeed: UInt64) {
        let n = segments.last?.upperBound ?? 0, h = shape.hidden
        self.texts = texts
        self.segments = segments
        self.recomputation = recomputation
        self.dropoutSeed = dropoutSeed
        embeddingSum = FloatBuffer(count: n * h)
        embeddingMean = FloatBuffer(count: n)
        embeddingRstd = FloatBuffer(count: n)
        embeddingMask = dropout.hidden > 0 ? FloatBuffer(count: n * h) : nil
        let probabilityCount = EncoderAttentionOps.probabilityCount(segments: segments, heads: shape.heads)
        switch recomputation {
        case .none:
            let inputs = (0...shape.layers).map { _ in FloatBuffer(count: n * h) }
            layerInputs = inputs
            layers = (0..<shape.layers).map { l in
                LegacyLayerActivations(input: inputs[l], output: inputs[l + 1], tokens: n, shape: shape,
                                        probabilityCount: probabilityCount, dropout: dropout)
            }
            products = []
        case .attention, .layers:
            layerInputs = (0..<shape.layers).map { _ in FloatBuffer(count: n * h) }
            layers = []
            products = recomputation == .attention
                ? (0..<shape.layers).map { _ in LegacyLayerProducts(tokens: n, shape: shape) } : []
        }
        pooledBuffer = FloatBuffer(count: texts.count * h)
    }
}
