import ListConRankerCUDA

/// Attention on the GPU, for the list head (a list's first row sees only itself) and the encoder
/// (every row sees its whole text) alike: the launches of the tiled kernels of
/// `CUDATrainingKernelSource+Attention.swift` (Float32), or in bf16 mode of their tensor-core twins
/// (`+AttentionBF16.swift`), whose products read bf16 as the other products do. What the forward
/// keeps for the backward is each query row's log-sum-exp per head (``ActivationStorage/AttentionKept/rowLogSumExp``),
/// `[heads · rows]` Float32: the backward forms the probabilities again a tile at a time.
extension CUDATrainingBackend {
    /// `context` (when given) of `qkv` under the optional dropout `mask`, as ``ListAttentionOps/forward``
    /// (`firstRowAlone`) or ``EncoderAttentionOps/forward`` computes it, and each row's log-sum-exp
    /// (`rowLogSumExp`, `[heads · rows]`); without a context only those. In bf16 mode the context may be
    /// a bf16 product operand, and `qkv` is read in bf16 (``attentionInput(_:segments:width:columns:)``).
    func attentionForward(context: Pointer?, rowLogSumExp: Pointer, mask: Pointer?, qkv: Pointer,
                          segments: [Range<Int>], width: Int, heads: Int, firstRowAlone: Bool) throws {
        guard let grid = try attentionGrid(segments: segments, width: width, heads: heads) else { return }
        let mask = try maskArguments(mask)
        let qkv = try attentionInput(qkv, segments: segments, width: width)
        // The bf16 kernel stores a context in either type; the Float32 one in Float32 only.
        let contextElement: [KernelArgument]
        switch productPrecision {
        case .fp32:
            if let context { try float32(context, "attention's context") }
            contextElement = []
        case .bf16: contextElement = [.int32(context?.element == .bfloat16 ? 1 : 0)]
        }
        let tables = try tables(segments)
        let offsets = try probabilityOffsets(segments, heads: heads)
        try withExtendedLifetime(qkv.copy) {
            try module.launch(attentionKernel("attention_forward_train"), grid: grid,
                              block: CUDATrainingKernelSource.attentionThreads,
                              [.address(qkv.address), .address(tables.starts.address), .address(tables.lengths.address),
                               .address(offsets.address), .int32(Int32(width)), .int32(Int32(heads)),
                               .int32(firstRowAlone ? 1 : 0)] + mask + [.address(rowLogSumExp.address),
                               .address(context?.address ?? 0)] + contextElement)
        }
    }

    /// `dqkv += ` (`.replace`: `=`) the gradient through the probabilities the forward's `rowLogSumExp`
    /// gives (and the mask), in two passes: the query rows' (each row's `rowsum(P ⊙ dP)`, then dQ) and
    /// the key rows' (dK and dV), which reads those sums; each forms dP and dS a tile at a time in
    /// shared memory. Each entry of a segment's rows is written by one block, so replacing needs no
    /// cleared buffer.
    /// In bf16 mode a replaced dqkv may be a bf16 product operand (the encoder's, read only by its
    /// linear layer's backward), and `qkv` and `dcontext` are read in bf16
    /// (``attentionInput(_:segments:width:columns:)``): the trainers' dcontext is a bf16 operand that
    /// its product wrote, and a Float32 one is converted here, the same bits either way.
    func attentionBackward(dqkv: Pointer, dqkvWrite: GradientWrite, dcontext: Pointer, rowLogSumExp: Pointer,
                           mask: Pointer?, qkv: Pointer, segments: [Range<Int>], width: Int, heads: Int,
                           firstRowAlone: Bool) throws {
        guard let grid = try attentionGrid(segments: segments, width: width, heads: heads) else { return }
        let mask = try maskArguments(mask)
        let qkv = try attentionInput(qkv, segments: segments, width: width)
        let dcontext = try attentionInput(dcontext, segments: segments, width: width, columns: width)
        try operand(dqkv, "attention's input gradient")
        let dqkvElement: [KernelArgument]
        switch productPrecision {
        case .fp32:
            try float32(dqkv, "attention's input gradient")
            dqkvElement = []
        case .bf16:
            guard dqkv.element == .float32 || dqkvWrite == .replace else {
                throw TrainingError.invalidInput("attention adds its input gradient into Float32 only")
            }
            dqkvElement = [Self.isBF16(dqkv)]
        }
        let tables = try tables(segments)
        let offsets = try probabilityOffsets(segments, heads: heads)
        // Each query row's rowsum(P ⊙ dP) per head, from the first pass to the second (dP and dS themselves
        // stay in shared memory, a tile at a time); the first pass writes every entry.
        let rowDots = try scratch(heads * (segments.last?.upperBound ?? 0)).array
        let threads = CUDATrainingKernelSource.attentionThreads
        let replace = KernelArgument.int32(dqkvWrite == .replace ? 1 : 0)
        let inputs: [KernelArgument] = [.address(qkv.address), .address(dcontext.address),
                                        .address(tables.starts.address), .address(tables.lengths.address),
                                        .address(offsets.address), .int32(Int32(width)), .int32(Int32(heads)),
                                        .int32(firstRowAlone ? 1 : 0), .address(rowLogSumExp.address)] + mask
        let outputs: [KernelArgument] = [.address(rowDots.address), .address(dqkv.address), replace] + dqkvElement
        try withExtendedLifetime((qkv.copy, dcontext.copy)) {
            try module.launch(attentionKernel("attention_backward_queries"), grid: grid, block: threads,
                              inputs + outputs)
            try module.launch(attentionKernel("attention_backward_keys"), grid: grid, block: threads, inputs + outputs)
        }
    }

    /// `qkv` (`[rows, 3·width]`; or with `columns` the context's gradient, `[rows, width]`) as the
    /// attention kernels read it, like a product's input: Float32 in fp32 mode; bf16 in bf16 mode,
    /// where a product operand (what the trainers' products write) is read as it is and a Float32
    /// one through a bf16 copy, the same bits either way.
    private func attentionInput(_ x: Pointer, segments: [Range<Int>], width: Int, columns: Int? = nil) throws
        -> ProductInput {
        let columns = columns ?? 3 * width
        return try productInput(x, ld: columns, rows: segments.last?.upperBound ?? 0, columns: columns)
    }

    /// A dropout mask as the kernels take it (`DropoutMask`): its bytes and its kept value (none: 0,
    /// 0); throws for a Float32 mask, which they no longer read.
    private func maskArguments(_ mask: Pointer?) throws -> [KernelArgument] {
        guard let mask else { return [.address(0), .float(0)] }
        return [.address(mask.address), .float(try byteMaskScale(mask))]
    }

    /// The attention kernel `name` of the backend's product precision.
    private func attentionKernel(_ name: String) -> String {
        switch productPrecision {
        case .fp32: name
        case .bf16: name + "_bf16"
        }
    }

    /// (segments, heads, 32-row tiles of the longest segment), or nil when there is nothing to do;
    /// throws when the heads do not split the width.
    private func attentionGrid(segments: [Range<Int>], width: Int, heads: Int) throws -> (Int, Int, Int)? {
        let longest = segments.map(\.count).max() ?? 0
        guard longest > 0, heads > 0 else { return nil }
        guard width % heads == 0 else {
            throw TrainingError.invalidInput("attention: a width of \(width) does not split into \(heads) heads")
        }
        let tile = CUDATrainingKernelSource.attentionTile
        return (segments.count, heads, (longest + tile - 1) / tile)
    }
}
