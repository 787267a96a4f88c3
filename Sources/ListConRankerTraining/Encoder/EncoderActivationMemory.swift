/// How many bytes the encoder's training passes hold for a list of texts, so a trainer can
/// report (and bound) its peak before running: what a forward keeps for its backward, and what
/// the backward adds on top while it runs, where a backend stores its buffers as an
/// ``ActivationStorage`` says (the CPU's Float32 by default; a GPU's byte masks, and in bf16 its
/// bf16 product operands and copies). Parameters, gradients and optimizer moments are not
/// included (4 bytes × ``EncoderParameterLayout/count`` each).
public struct EncoderActivationMemory: Sendable, Equatable {
    /// Bytes an ``EncoderForwardPass`` holds until its backward (equals its
    /// ``EncoderForwardPass/savedActivationBytes`` on the CPU, and what the same pass holds on a GPU
    /// with the GPU's storage).
    public let savedBytes: Int
    /// The most the backward allocates at once besides the saved activations: the gradient
    /// buffers of one layer and the attention scratch, and with recomputation what one layer
    /// re-runs.
    public let backwardWorkingBytes: Int

    /// `savedBytes + backwardWorkingBytes`: the activation peak of one forward and backward.
    public var peakBytes: Int { savedBytes + backwardWorkingBytes }

    /// The figures for texts of `lengths` tokens each, stored as `storage` says.
    public init(lengths: [Int], shape: EncoderShape, dropout: EncoderDropout, recomputation: EncoderRecomputation,
                storage: ActivationStorage = .cpu) {
        let n = lengths.reduce(0, +), h = shape.hidden
        // The buffers' own formulas (the CPU's types name them; the sizes depend only on `storage`).
        let own = EncoderLayerActivations<CPUTrainingBackend>.ownBytes(tokens: n, shape: shape, lengths: lengths,
                                                                       dropout: dropout, storage: storage)
        let products = EncoderLayerProducts<CPUTrainingBackend>.bytes(tokens: n, shape: shape, storage: storage)
        // Embeddings: the LayerNorm input and its statistics, and the dropout mask.
        let embeddings = storage.bytes(n * h + 2 * n, .float32) + storage.bytes(dropout.hidden > 0 ? n * h : 0, .dropoutMask)
        // Each layer's input (and without recomputation the last output), with its product copy.
        let input = storage.bytes(n * h, .withProductCopy)
        // A re-run layer writes its output to a Float32 buffer of its own.
        let output = storage.bytes(n * h, .float32)
        let saved: Int, rerun: Int                                       // kept; one layer's re-run buffers
        switch recomputation {
        case .none: (saved, rerun) = (embeddings + (shape.layers + 1) * input + shape.layers * (own + products), 0)
        case .attention: (saved, rerun) = (embeddings + shape.layers * (input + products), own + output)
        case .layers: (saved, rerun) = (embeddings + shape.layers * input, own + products + output)
        }
        // Backward of one layer (EncoderLayerGradientBuffers) and attention's scratch while it runs;
        // with recomputation the re-run layer's buffers (the ones not kept) and its output.
        let gradients = EncoderLayerGradientBuffers<CPUTrainingBackend>.bytes(tokens: n, shape: shape, storage: storage)
            + storage.attentionScratchBytes(lengths: lengths, heads: shape.heads)
        savedBytes = saved
        backwardWorkingBytes = gradients + rerun
    }
}
