import Foundation

/// What one transformer layer's forward keeps for its backward. R rows, W width, F
/// feed-forward; dropout masks exist only when dropout is on (and the buffers they follow
/// then hold values after dropout).
final class LayerActivations {
    let input: FloatBuffer          // [R, W]  the layer's input (the previous layer's output)
    let qkv: FloatBuffer            // [R, 3W] in_proj(x): q, k, v per row
    let probabilities: FloatBuffer  // [Σ heads·L²] attention softmax per list and head
    let attentionMask: FloatBuffer? // same layout: dropout on attention weights
    let context: FloatBuffer        // [R, W]  heads concatenated, before out_proj
    let attended: FloatBuffer       // [R, W]  out_proj(context), after dropout1
    let attendedMask: FloatBuffer?  // [R, W]
    let residual1: FloatBuffer      // [R, W]  input + attended (norm1's input)
    let mean1: FloatBuffer          // [R]
    let rstd1: FloatBuffer          // [R]
    let normed1: FloatBuffer        // [R, W]  norm1 output
    let preActivation: FloatBuffer  // [R, F]  linear1(normed1)
    let activated: FloatBuffer      // [R, F]  GELU, after dropout
    let activatedMask: FloatBuffer? // [R, F]
    let fed: FloatBuffer            // [R, W]  linear2(activated), after dropout2
    let fedMask: FloatBuffer?       // [R, W]
    let residual2: FloatBuffer      // [R, W]  normed1 + fed (norm2's input)
    let mean2: FloatBuffer          // [R]
    let rstd2: FloatBuffer          // [R]
    let output: FloatBuffer         // [R, W]  norm2 output

    init(input: FloatBuffer, rows r: Int, width w: Int, feedForward f: Int, probabilityCount: Int, dropout: Bool) {
        self.input = input
        qkv = FloatBuffer(count: r * 3 * w)
        probabilities = FloatBuffer(count: probabilityCount)
        attentionMask = dropout ? FloatBuffer(count: probabilityCount) : nil
        context = FloatBuffer(count: r * w)
        attended = FloatBuffer(count: r * w)
        attendedMask = dropout ? FloatBuffer(count: r * w) : nil
        residual1 = FloatBuffer(count: r * w)
        mean1 = FloatBuffer(count: r)
        rstd1 = FloatBuffer(count: r)
        normed1 = FloatBuffer(count: r * w)
        preActivation = FloatBuffer(count: r * f)
        activated = FloatBuffer(count: r * f)
        activatedMask = dropout ? FloatBuffer(count: r * f) : nil
        fed = FloatBuffer(count: r * w)
        fedMask = dropout ? FloatBuffer(count: r * w) : nil
        residual2 = FloatBuffer(count: r * w)
        mean2 = FloatBuffer(count: r)
        rstd2 = FloatBuffer(count: r)
        output = FloatBuffer(count: r * w)
    }
}

/// The result of ``ListHeadNetwork/forward(_:parameters:dropoutSeed:)``: the logits, and every
/// activation the backward needs, in named buffers (R rows, L lists, P passages, H hidden, W width).
public final class ListHeadForwardPass: @unchecked Sendable {
    /// The batch that went in.
    public let batch: ListBatch
    /// One logit per passage, list after list: `[P]`.
    public var logits: [Float] { logitBuffer.array }
    /// `s = sigmoid(logit)`, the scores the loss and the published model use.
    public var scores: [Float] { logits.map { 1 / (1 + exp(-$0)) } }
    /// The list features `f = linear_in_embedding(pooled)`: `[R, W]`, row-major.
    public var features: [Float] { f.array }

    let pooled: FloatBuffer            // [R, H]
    let f: FloatBuffer                 // [R, W]  linear_in_embedding(pooled)
    let tagged: FloatBuffer            // [R, W]  f + tag (the tag LayerNorm's input)
    let tagMean: FloatBuffer           // [R]
    let tagRstd: FloatBuffer           // [R]
    let layers: [LayerActivations]     // layer 0's input is the tag LayerNorm's output
    let queryFeatures: FloatBuffer     // [L, W]  f_0 of each list
    let passageFeatures: FloatBuffer   // [P, W]  f_i, i ≥ 1, list after list
    let scorePre: FloatBuffer          // [P, W]  linear_score2([f_0 ; f_i])
    let queryOutputs: FloatBuffer      // [L, W]  g_0 of each list
    let passageOutputs: FloatBuffer    // [P, W]  g_i
    let scorePost: FloatBuffer         // [P, W]  linear_score3([g_0 ; g_i])
    let joined: FloatBuffer            // [P, 2W] [ReLU(scorePre) ; ReLU(scorePost)]
    let logitBuffer: FloatBuffer       // [P]     linear_score1(joined)
    let dropout: Float

    init(batch: ListBatch, shape: ListHeadShape, dropout: Float) {
        let r = batch.rows, p = batch.passageCount, w = shape.width
        self.batch = batch
        self.dropout = dropout
        pooled = FloatBuffer(batch.pooled)
        f = FloatBuffer(count: r * w)
        tagged = FloatBuffer(count: r * w)
        tagMean = FloatBuffer(count: r)
        tagRstd = FloatBuffer(count: r)
        let probabilityCount = ListAttentionOps.probabilityCount(segments: batch.segments, heads: shape.heads)
        var layers: [LayerActivations] = []
        var input = FloatBuffer(count: r * w)
        for _ in 0..<shape.layers {
            let layer = LayerActivations(input: input, rows: r, width: w, feedForward: shape.feedForward,
                                         probabilityCount: probabilityCount, dropout: dropout > 0)
            layers.append(layer)
            input = layer.output
        }
        self.layers = layers
        let lists = batch.listLengths.count
        queryFeatures = FloatBuffer(count: lists * w)
        passageFeatures = FloatBuffer(count: p * w)
        scorePre = FloatBuffer(count: p * w)
        queryOutputs = FloatBuffer(count: lists * w)
        passageOutputs = FloatBuffer(count: p * w)
        scorePost = FloatBuffer(count: p * w)
        joined = FloatBuffer(count: p * 2 * w)
        logitBuffer = FloatBuffer(count: p)
    }

    /// The transformer's output `g`: `[R, W]`.
    var transformerOutput: FloatBuffer { layers[layers.count - 1].output }
}
