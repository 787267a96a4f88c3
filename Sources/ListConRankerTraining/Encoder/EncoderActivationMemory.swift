/// How many bytes the encoder's training passes hold for a list of texts, so a trainer can
/// report (and bound) its peak before running: what a forward keeps for its backward, and what
/// the backward adds on top while it runs. Parameters, gradients and optimizer moments are not
/// included (4 bytes × ``EncoderParameterLayout/count`` each). Every element counts 4 bytes: on a
/// GPU dropout masks take 1 (``TrainingBackend/dropoutMask(_:probability:)``) and, training in bf16,
/// GELU's outputs and attention's contexts 2 (``TrainingBackend/productOperand(_:)``), so there the
/// figures are a bound.
public struct EncoderActivationMemory: Sendable, Equatable {
    /// Bytes an ``EncoderForwardPass`` holds until its backward (equals its
    /// ``EncoderForwardPass/savedActivationBytes``).
    public let savedBytes: Int
    /// The most the backward allocates at once besides the saved activations: the gradient
    /// buffers of one layer and the attention scratch, and with recomputation what one layer
    /// re-runs.
    public let backwardWorkingBytes: Int

    /// `savedBytes + backwardWorkingBytes`: the activation peak of one forward and backward.
    public var peakBytes: Int { savedBytes + backwardWorkingBytes }

    /// The figures for texts of `lengths` tokens each.
    public init(lengths: [Int], shape: EncoderShape, dropout: EncoderDropout, recomputation: EncoderRecomputation) {
        let n = lengths.reduce(0, +), h = shape.hidden, f = shape.intermediate
        let probabilityCount = lengths.reduce(0) { $0 + shape.heads * $1 * $1 }
        let longest = lengths.max() ?? 0
        // Element counts do not depend on the device; the CPU's types name the formulas.
        let own = EncoderLayerActivations<CPUTrainingBackend>.ownElements(tokens: n, shape: shape, probabilityCount: probabilityCount,
                                                                          dropout: dropout)
        let products = EncoderLayerProducts<CPUTrainingBackend>.elements(tokens: n, shape: shape)
        // Embeddings: the LayerNorm input and its statistics, and the dropout mask.
        let embeddings = n * h + 2 * n + (dropout.hidden > 0 ? n * h : 0)
        let saved: Int, rerun: Int                                       // kept; one layer's re-run buffers
        switch recomputation {
        case .none: (saved, rerun) = (embeddings + (shape.layers + 1) * n * h + shape.layers * (own + products), 0)
        case .attention: (saved, rerun) = (embeddings + shape.layers * (n * h + products), own + n * h)
        case .layers: (saved, rerun) = (embeddings + shape.layers * n * h, own + products + n * h)
        }
        // Backward of one layer (EncoderLayerGradientBuffers): the incoming gradient, dinput,
        // dnormed1, dbranch, dcontext ([N, H] each), dactivated and dpreActivation ([N, F]), dqkv
        // ([N, 3H]), and the attention's two [L, L] scratch blocks; with recomputation the re-run
        // layer's buffers (the ones not kept) and its output.
        let gradients = 5 * n * h + 2 * n * f + 3 * n * h + 2 * longest * longest
        savedBytes = 4 * saved
        backwardWorkingBytes = 4 * (gradients + rerun)
    }
}
