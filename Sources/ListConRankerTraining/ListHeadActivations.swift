import Foundation

/// What one transformer layer's forward keeps for its backward. R rows, W width, F
/// feed-forward; dropout masks exist only when dropout is on (and the buffers they follow
/// then hold values after dropout). What the products read carries its bf16 copy where they read
/// bf16 (the LayerNorm outputs, GELU's; ``TrainingBackend/withProductCopy(_:)``) or is stored so
/// (the context), as in the encoder.
final class LayerActivations<Backend: TrainingBackend> {
    typealias FloatBuffer = Backend.Buffer
    let input: FloatBuffer          // [R, W]  the layer's input (the previous layer's output)
    let qkv: FloatBuffer            // [R, 3W] in_proj(x): q, k, v per row (only attention reads it)
    let probabilities: FloatBuffer  // what attention keeps (ActivationStorage.attentionKept): on the CPU
                                    // [Σ heads·L²] softmax per list and head, on a GPU [heads·R] log-sum-exps
    let attentionMask: FloatBuffer? // [Σ heads·L²]: dropout on attention weights per list and head
    let context: FloatBuffer        // [R, W]  heads concatenated, before out_proj (only products read it)
    let attendedMask: FloatBuffer?  // [R, W]  dropout1's, on out_proj(context)
    let residual1: FloatBuffer      // [R, W]  input + dropout1(out_proj(context)) (norm1's input)
    let mean1: FloatBuffer          // [R]
    let rstd1: FloatBuffer          // [R]
    let normed1: FloatBuffer        // [R, W]  norm1 output
    let preActivation: FloatBuffer  // [R, F]  linear1(normed1)
    let activated: FloatBuffer      // [R, F]  GELU, after dropout
    let activatedMask: FloatBuffer? // [R, F]
    let fedMask: FloatBuffer?       // [R, W]  dropout2's, on linear2(activated)
    let residual2: FloatBuffer      // [R, W]  normed1 + dropout2(linear2(activated)) (norm2's input)
    let mean2: FloatBuffer          // [R]
    let rstd2: FloatBuffer          // [R]
    let output: FloatBuffer         // [R, W]  norm2 output

    /// `lengths`: each list's rows; `heads`: attention's.
    init(input: FloatBuffer, rows r: Int, width w: Int, feedForward f: Int, lengths: [Int], heads: Int, dropout p: Float,
         backend: Backend) throws {
        let dropout = p > 0
        let probabilityCount = ListAttentionOps.probabilityCount(lengths: lengths, heads: heads)
        self.input = input
        qkv = try backend.productOperand(r * 3 * w)
        probabilities = try backend.scratch(backend.activationStorage.attentionKeptCount(lengths: lengths, heads: heads))
        attentionMask = dropout ? try backend.dropoutMask(probabilityCount, probability: p) : nil
        context = try backend.productOperand(r * w)
        attendedMask = dropout ? try backend.dropoutMask(r * w, probability: p) : nil
        residual1 = try backend.scratch(r * w)
        mean1 = try backend.scratch(r)
        rstd1 = try backend.scratch(r)
        normed1 = try backend.withProductCopy(r * w)
        preActivation = try backend.scratch(r * f)
        activated = try backend.withProductCopy(r * f)
        activatedMask = dropout ? try backend.dropoutMask(r * f, probability: p) : nil
        fedMask = dropout ? try backend.dropoutMask(r * w, probability: p) : nil
        residual2 = try backend.scratch(r * w)
        mean2 = try backend.scratch(r)
        rstd2 = try backend.scratch(r)
        output = try backend.withProductCopy(r * w)
    }
}

/// Every activation of one forward pass of the list head that its backward needs, in named
/// buffers on the backend's device (R rows, L lists, P passages, H hidden, W width).
final class ListHeadActivations<Backend: TrainingBackend> {
    typealias FloatBuffer = Backend.Buffer
    let lists: ListRows
    let pooled: FloatBuffer            // [R, H]  the head's input: lent (stage 2's encoder output) or uploaded
    let f: FloatBuffer                 // [R, W]  linear_in_embedding(pooled)
    let tagged: FloatBuffer            // [R, W]  f + tag (the tag LayerNorm's input)
    let tagMean: FloatBuffer           // [R]
    let tagRstd: FloatBuffer           // [R]
    let layers: [LayerActivations<Backend>]   // layer 0's input is the tag LayerNorm's output
    let queryFeatures: FloatBuffer     // [L, W]  f_0 of each list
    let passageFeatures: FloatBuffer   // [P, W]  f_i, i ≥ 1, list after list
    let scorePre: FloatBuffer          // [P, W]  linear_score2([f_0 ; f_i])
    let queryOutputs: FloatBuffer      // [L, W]  g_0 of each list
    let passageOutputs: FloatBuffer    // [P, W]  g_i
    let scorePost: FloatBuffer         // [P, W]  linear_score3([g_0 ; g_i])
    let joined: FloatBuffer            // [P, 2W] [ReLU(scorePre) ; ReLU(scorePost)]
    let logitBuffer: FloatBuffer       // [P]     linear_score1(joined)
    let dropout: Float

    /// The activations of a pass over `batch`, whose vectors go up to the device.
    convenience init(batch: ListBatch, shape: ListHeadShape, dropout: Float, backend: Backend) throws {
        try self.init(lists: batch.lists, pooled: try backend.upload(batch.pooled), shape: shape, dropout: dropout,
                      backend: backend)
    }

    /// The activations of a pass over `lists` whose vectors `pooled` (`[R, H]`) are on the device.
    init(lists: ListRows, pooled: FloatBuffer, shape: ListHeadShape, dropout: Float, backend: Backend) throws {
        let r = lists.rows, p = lists.passageCount, w = shape.width
        try lists.checkVectors(count: pooled.count)
        self.lists = lists
        self.dropout = dropout
        self.pooled = pooled
        f = try backend.scratch(r * w)
        tagged = try backend.scratch(r * w)
        tagMean = try backend.scratch(r)
        tagRstd = try backend.scratch(r)
        var layers: [LayerActivations<Backend>] = []
        var input = try backend.withProductCopy(r * w)
        for _ in 0..<shape.layers {
            let layer = try LayerActivations(input: input, rows: r, width: w, feedForward: shape.feedForward,
                                             lengths: lists.listLengths, heads: shape.heads,
                                             dropout: dropout, backend: backend)
            layers.append(layer)
            input = layer.output
        }
        self.layers = layers
        queryFeatures = try backend.scratch(lists.listLengths.count * w)
        passageFeatures = try backend.scratch(p * w)
        scorePre = try backend.scratch(p * w)
        queryOutputs = try backend.scratch(lists.listLengths.count * w)
        passageOutputs = try backend.scratch(p * w)
        scorePost = try backend.scratch(p * w)
        joined = try backend.scratch(p * 2 * w)
        logitBuffer = try backend.scratch(p)
    }

    /// The transformer's output `g`: `[R, W]`.
    var transformerOutput: FloatBuffer { layers[layers.count - 1].output }
}

/// The result of ``ListHeadNetwork/forward(_:parameters:dropoutSeed:)`` on the CPU: the logits,
/// and every activation the backward needs.
public final class ListHeadForwardPass: @unchecked Sendable {
    let activations: ListHeadActivations<CPUTrainingBackend>
    /// The batch that went in.
    public let batch: ListBatch

    init(_ activations: ListHeadActivations<CPUTrainingBackend>, batch: ListBatch) {
        self.activations = activations
        self.batch = batch
    }
    /// One logit per passage, list after list: `[P]`.
    public var logits: [Float] { activations.logitBuffer.array }
    /// `s = sigmoid(logit)`, the scores the loss and the published model use.
    public var scores: [Float] { logits.map { 1 / (1 + exp(-$0)) } }
    /// The list features `f = linear_in_embedding(pooled)`: `[R, W]`, row-major.
    public var features: [Float] { activations.f.array }
}
