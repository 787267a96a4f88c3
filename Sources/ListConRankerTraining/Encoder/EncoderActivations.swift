/// The outputs of one layer's matrix products that its backward needs, the sums formed from
/// them, and the first LayerNorm's output as the products read it (N tokens, H hidden, F
/// intermediate), on the backend's device: what ``EncoderRecomputation/attention`` keeps per
/// layer, so the backward runs none of the layer's weight products, and no LayerNorm, again.
final class EncoderLayerProducts<Backend: TrainingBackend> {
    typealias Buffer = Backend.Buffer
    let qkv: Buffer                   // [N, 3H] query, key, value projections per row (only attention reads it)
    let context: Buffer               // [N, H]  heads side by side, before attention.output.dense (only products read it)
    let residual1: Buffer             // [N, H]  input + dropout(dense(context)): the first LayerNorm's input
    let mean1: Buffer                 // [N]     attention.output.LayerNorm statistics of residual1
    let rstd1: Buffer                 // [N]
    let normed1Copy: Buffer           // [N, H]  LN(residual1) as the products read it (a product operand:
                                      //         in bf16 only the copy, its Float32 values are a layer's own)
    let preActivation: Buffer         // [N, F]  intermediate.dense(normed1)
    let residual2: Buffer             // [N, H]  normed1 + dropout(output.dense(activated))
    let mean2: Buffer                 // [N]     output.LayerNorm statistics of residual2
    let rstd2: Buffer                 // [N]

    init(tokens n: Int, shape: EncoderShape, backend: Backend) throws {
        let h = shape.hidden
        qkv = try backend.productOperand(n * 3 * h)
        context = try backend.productOperand(n * h)
        residual1 = try backend.scratch(n * h)
        mean1 = try backend.scratch(n)
        rstd1 = try backend.scratch(n)
        normed1Copy = try backend.productOperand(n * h)
        preActivation = try backend.scratch(n * shape.intermediate)
        residual2 = try backend.scratch(n * h)
        mean2 = try backend.scratch(n)
        rstd2 = try backend.scratch(n)
    }

    /// Bytes of its buffers where a backend stores them as `storage` says: qkv, the context and
    /// normed1's copy are product operands, the rest Float32.
    static func bytes(tokens n: Int, shape: EncoderShape, storage: ActivationStorage) -> Int {
        let h = shape.hidden
        return storage.bytes(5 * n * h, .productOperand) + storage.bytes(n * (2 * h + shape.intermediate) + 4 * n, .float32)
    }

    /// Bytes of the buffers it holds (to check ``bytes(tokens:shape:storage:)``).
    var allocatedBytes: Int {
        [qkv, context, residual1, mean1, rstd1, normed1Copy, preActivation, residual2, mean2, rstd2]
            .reduce(0) { $0 + $1.bytes }
    }
}

/// What one BERT layer's forward keeps for its backward (N tokens, H hidden, F intermediate).
/// Dropout masks exist only when that dropout is on; the buffers they follow then hold values
/// after dropout. `input` and `output` are lent by the caller (the previous layer's output, the
/// next layer's input), so that recomputation can run a layer between buffers it keeps; so are
/// the `products` when the caller keeps them per layer (``EncoderRecomputation/attention``). The
/// layer's own buffers are the ones that mode re-runs: what attention keeps of its softmax (the
/// probabilities, or on a GPU each row's log-sum-exp), dropout masks and GELU, and the first
/// LayerNorm's Float32 values where its product copy is apart from them (bf16: the second residual
/// join reads them in the forward; the backward reads only the copy).
final class EncoderLayerActivations<Backend: TrainingBackend> {
    typealias Buffer = Backend.Buffer
    var input: Buffer                      // [N, H]  the layer's input
    var products: EncoderLayerProducts<Backend>   // qkv, context, residual1 and its LayerNorm's, preActivation,
                                                  // residual2, mean2, rstd2
    let probabilities: Buffer              // what attention keeps (ActivationStorage.attentionKept): on the CPU
                                           // [Σ heads·L²] softmax per text and head, on a GPU [heads·N] log-sum-exps
    let probabilityMask: Buffer?           // [Σ heads·L²]: attention-probability dropout per text and head
    let attentionMask: Buffer?             // [N, H]  hidden dropout after attention.output.dense
    let normed1Values: Buffer?             // [N, H]  attention.output.LayerNorm output, Float32, where its
                                           // product copy (products.normed1Copy) is bf16; nil where that holds it
    let activated: Buffer                  // [N, F]  GELU(preActivation): only products read it (bf16 on a GPU in bf16)
    let outputMask: Buffer?                // [N, H]  hidden dropout after output.dense
    var output: Buffer                     // [N, H]  output.LayerNorm output

    var qkv: Buffer { products.qkv }
    var context: Buffer { products.context }
    var residual1: Buffer { products.residual1 }
    var mean1: Buffer { products.mean1 }
    var rstd1: Buffer { products.rstd1 }
    var normed1Copy: Buffer { products.normed1Copy }
    var preActivation: Buffer { products.preActivation }
    var residual2: Buffer { products.residual2 }
    var mean2: Buffer { products.mean2 }
    var rstd2: Buffer { products.rstd2 }

    /// `products`: lent by the caller, or nil for the layer's own.
    /// `lengths`: each text's tokens.
    init(input: Buffer, output: Buffer, products: EncoderLayerProducts<Backend>? = nil, tokens n: Int,
         shape: EncoderShape, lengths: [Int], dropout: EncoderDropout, backend: Backend) throws {
        let h = shape.hidden, f = shape.intermediate
        let probabilityCount = ListAttentionOps.probabilityCount(lengths: lengths, heads: shape.heads)
        self.input = input
        self.products = try products ?? EncoderLayerProducts(tokens: n, shape: shape, backend: backend)
        probabilities = try backend.scratch(backend.activationStorage.attentionKeptCount(lengths: lengths,
                                                                                          heads: shape.heads))
        probabilityMask = dropout.attention > 0
            ? try backend.dropoutMask(probabilityCount, probability: dropout.attention) : nil
        attentionMask = dropout.hidden > 0 ? try backend.dropoutMask(n * h, probability: dropout.hidden) : nil
        normed1Values = try backend.productCopyValues(for: self.products.normed1Copy)
        activated = try backend.productOperand(n * f)
        outputMask = dropout.hidden > 0 ? try backend.dropoutMask(n * h, probability: dropout.hidden) : nil
        self.output = output
    }

    /// Bytes this layer allocates itself besides its products (everything but the lent `input`,
    /// `output` and `products`) where a backend stores them as `storage` says: with
    /// ``EncoderLayerProducts/bytes(tokens:shape:storage:)`` the formula ``EncoderActivationMemory``
    /// reports with.
    static func ownBytes(tokens n: Int, shape: EncoderShape, lengths: [Int], dropout: EncoderDropout,
                         storage: ActivationStorage) -> Int {
        let h = shape.hidden, f = shape.intermediate
        let probabilityCount = ListAttentionOps.probabilityCount(lengths: lengths, heads: shape.heads)
        let kept = storage.attentionKeptCount(lengths: lengths, heads: shape.heads)
        let masks = (dropout.hidden > 0 ? 2 * n * h : 0) + (dropout.attention > 0 ? probabilityCount : 0)
        return storage.bytes(kept, .float32) + storage.bytes(n * h, .productCopyValues)
            + storage.bytes(n * f, .productOperand) + storage.bytes(masks, .dropoutMask)
    }

    /// Bytes of the buffers this layer holds besides `input`, `output` and `products` (to check
    /// ``ownBytes(tokens:shape:lengths:dropout:storage:)``).
    var allocatedOwnBytes: Int {
        [probabilities, activated].reduce(0) { $0 + $1.bytes } + (normed1Values?.bytes ?? 0)
            + [probabilityMask, attentionMask, outputMask].reduce(0) { $0 + ($1?.bytes ?? 0) }
    }
}

/// What an encoder forward keeps for its backward, on the backend's device. Without
/// recomputation that is every layer's activations; with it each layer's input, and with
/// ``EncoderRecomputation/attention`` each layer's products too (the backward re-runs the rest,
/// redrawing the same dropout masks from the same seed).
final class EncoderActivations<Backend: TrainingBackend> {
    typealias Buffer = Backend.Buffer
    let texts: [[Int32]]                    // token ids, `[CLS] … [SEP]`
    let recomputation: EncoderRecomputation
    let dropoutSeed: UInt64
    let segments: [Range<Int>]              // each text's rows in the packed matrices
    let embeddingSum: Buffer                // [N, H] word + token type 0 + position: the LayerNorm's input
    let embeddingMean: Buffer               // [N]
    let embeddingRstd: Buffer               // [N]
    let embeddingMask: Buffer?              // [N, H] hidden dropout after the embedding LayerNorm
    /// Each layer's input, `[N, H]` (layer 0's is the embeddings' output), and last the final
    /// hidden states when the layers are kept; with recomputation only the layer inputs. Each with a
    /// product copy (``TrainingBackend/withProductCopy(_:)``): its layer's first product reads it.
    let layerInputs: [Buffer]
    let layers: [EncoderLayerActivations<Backend>]   // every layer's activations; empty with recomputation
    let products: [EncoderLayerProducts<Backend>]    // each layer's, with `.attention` only
    let pooled: Buffer                      // [texts, H]

    init(texts: [[Int32]], segments: [Range<Int>], shape: EncoderShape, dropout: EncoderDropout,
         recomputation: EncoderRecomputation, dropoutSeed: UInt64, backend: Backend) throws {
        let n = segments.last?.upperBound ?? 0, h = shape.hidden
        self.texts = texts
        self.segments = segments
        self.recomputation = recomputation
        self.dropoutSeed = dropoutSeed
        embeddingSum = try backend.scratch(n * h)
        embeddingMean = try backend.scratch(n)
        embeddingRstd = try backend.scratch(n)
        embeddingMask = dropout.hidden > 0 ? try backend.dropoutMask(n * h, probability: dropout.hidden) : nil
        switch recomputation {
        case .none:
            let inputs = try (0...shape.layers).map { _ in try backend.withProductCopy(n * h) }
            layerInputs = inputs
            layers = try (0..<shape.layers).map { l in
                try EncoderLayerActivations(input: inputs[l], output: inputs[l + 1], tokens: n, shape: shape,
                                            lengths: segments.map(\.count), dropout: dropout, backend: backend)
            }
            products = []
        case .attention, .layers:
            layerInputs = try (0..<shape.layers).map { _ in try backend.withProductCopy(n * h) }
            layers = []
            products = recomputation == .attention
                ? try (0..<shape.layers).map { _ in try EncoderLayerProducts(tokens: n, shape: shape, backend: backend) } : []
        }
        pooled = try backend.scratch(texts.count * h)
    }

    /// Bytes held for the backward (``EncoderActivationMemory/savedBytes``).
    var savedBytes: Int {
        let buffers = [embeddingSum, embeddingMean, embeddingRstd] + (embeddingMask.map { [$0] } ?? []) + layerInputs
        return buffers.reduce(0) { $0 + $1.bytes }
            + layers.reduce(0) { $0 + $1.allocatedOwnBytes + $1.products.allocatedBytes }
            + products.reduce(0) { $0 + $1.allocatedBytes }
    }
}

/// The result of ``EncoderNetwork/forward(_:parameters:dropoutSeed:recomputation:)`` on the CPU:
/// the pooled vectors, and what the backward needs (``EncoderActivations``).
public final class EncoderForwardPass: @unchecked Sendable {
    let activations: EncoderActivations<CPUTrainingBackend>

    init(_ activations: EncoderActivations<CPUTrainingBackend>) { self.activations = activations }

    /// The texts that went in (token ids, `[CLS] … [SEP]`).
    public var texts: [[Int32]] { activations.texts }
    /// What the forward kept, and so what the backward re-runs.
    public var recomputation: EncoderRecomputation { activations.recomputation }
    /// The seed the dropout masks were drawn from.
    public var dropoutSeed: UInt64 { activations.dropoutSeed }
    /// Mean-pooled last hidden states, one row per text: `[texts, H]`, row-major.
    public var pooled: [Float] { activations.pooled.array }
    /// Bytes held for the backward (``EncoderActivationMemory/savedBytes``).
    public var savedActivationBytes: Int { activations.savedBytes }
    /// The embeddings' dropout mask, when dropout is on.
    var embeddingMask: FloatBuffer? { activations.embeddingMask }
    /// Every layer's activations (empty with recomputation).
    var layers: [EncoderLayerActivations<CPUTrainingBackend>] { activations.layers }
}
