/// How a training backend stores the kinds of buffer a training pass allocates, in bytes an
/// element, what its attention keeps for the backward, and how large its attention backward's
/// scratch is: what ``EncoderActivationMemory``
/// counts with, so that its figures are the bytes that backend holds rather than a Float32 bound
/// (in bf16 on a GPU a Float32 count is about a sixth too high, and it missed the GPU's attention
/// scratch).
public struct ActivationStorage: Sendable, Equatable {
    /// The kinds of buffer (a ``TrainingBackend``'s allocators).
    public enum Kind: Sendable, CaseIterable {
        /// A Float32 activation or gradient (`scratch`, `zeros`).
        case float32
        /// A buffer only matrix products read besides its writer (`productOperand`).
        case productOperand
        /// A Float32 activation with the copy its products read (`withProductCopy`).
        case withProductCopy
        /// The Float32 values of an activation whose product copy is a product operand apart
        /// (`productCopyValues(for:)`): none where that operand holds the values.
        case productCopyValues
        /// A dropout mask (`dropoutMask`).
        case dropoutMask
    }

    /// What attention's backward allocates while it runs.
    public enum AttentionScratch: Sendable, Equatable {
        /// Two `[L, L]` blocks for the longest text (dP, then dS, and the dropped-out probabilities):
        /// the CPU, which works one text and head at a time.
        case twoBlocksOfTheLongestText
        /// A Float32 per token and head (each query row's `rowsum(P ⊙ dP)`, for every text and head at
        /// once; dP and dS stay in shared memory a tile at a time): the GPU.
        case onePerTokenAndHead
    }

    /// What attention keeps of its probabilities for the backward.
    public enum AttentionKept: Sendable, Equatable {
        /// Every `[L, L]` block of probabilities: the CPU, whose backward reads them.
        case probabilities
        /// A Float32 per token and head, each query row's log-sum-exp: the GPU, whose every pass
        /// forms the probabilities again a tile at a time from it.
        case rowLogSumExp
    }

    /// Bytes an element of a product operand: 4, or 2 where the products read bf16.
    public let productOperandBytes: Int
    /// Bytes an element of an activation with a product copy: 4, or 6 with a bf16 copy.
    public let withProductCopyBytes: Int
    /// Bytes an element of a dropout mask: 4 as Float32 values, 1 as a byte.
    public let dropoutMaskBytes: Int
    /// What attention keeps for its backward.
    public let attentionKept: AttentionKept
    /// Attention's backward scratch.
    public let attentionScratch: AttentionScratch

    /// The CPU's: everything Float32, attention one text and head at a time.
    public static let cpu = ActivationStorage(productOperandBytes: 4, withProductCopyBytes: 4, dropoutMaskBytes: 4,
                                              attentionKept: .probabilities,
                                              attentionScratch: .twoBlocksOfTheLongestText)
    /// A GPU's with Float32 products (the parity mode): masks are bytes.
    public static let gpuFP32 = ActivationStorage(productOperandBytes: 4, withProductCopyBytes: 4, dropoutMaskBytes: 1,
                                                  attentionKept: .rowLogSumExp,
                                                  attentionScratch: .onePerTokenAndHead)
    /// A GPU's with bf16 products: operands in bf16 and a bf16 copy beside each LayerNorm output.
    public static let gpuBF16 = ActivationStorage(productOperandBytes: 2, withProductCopyBytes: 6, dropoutMaskBytes: 1,
                                                  attentionKept: .rowLogSumExp,
                                                  attentionScratch: .onePerTokenAndHead)

    /// Bytes of a buffer of `count` elements of `kind`.
    public func bytes(_ count: Int, _ kind: Kind) -> Int {
        switch kind {
        case .float32: 4 * count
        case .productOperand: productOperandBytes * count
        case .withProductCopy: withProductCopyBytes * count
        case .productCopyValues: (withProductCopyBytes - productOperandBytes) * count
        case .dropoutMask: dropoutMaskBytes * count
        }
    }

    /// Float32 elements attention keeps for its backward (``attentionKept``) for texts (or lists) of
    /// `lengths` rows over `heads` heads: what a backend's attention forward takes as its
    /// `probabilities`.
    public func attentionKeptCount(lengths: [Int], heads: Int) -> Int {
        switch attentionKept {
        case .probabilities: ListAttentionOps.probabilityCount(lengths: lengths, heads: heads)
        case .rowLogSumExp: heads * lengths.reduce(0, +)
        }
    }

    /// Bytes attention's backward allocates for texts of `lengths` tokens over `heads` heads.
    public func attentionScratchBytes(lengths: [Int], heads: Int) -> Int {
        switch attentionScratch {
        case .twoBlocksOfTheLongestText:
            let longest = lengths.max() ?? 0
            return bytes(2 * longest * longest, .float32)
        case .onePerTokenAndHead:
            return bytes(heads * lengths.reduce(0, +), .float32)
        }
    }
}
