import ListConRankerCUDA

/// The GPU trainer's matrix products in either precision (issue 30): mixed precision as PyTorch's
/// autocast does it for `nn.Linear`. In bf16 mode each product reads bf16 copies of its two Float32
/// inputs (rounded to nearest even by `bf16_from_float_rows`, as `.to(torch.bfloat16)` rounds) and
/// accumulates in Float32 into its Float32 output, so `beta = 1` still adds dX and dW into Float32
/// gradients. Master weights, gradients, LayerNorm, GELU, softmax, attention and the optimizer stay
/// Float32 whatever the mode.
extension CUDATrainingBackend {
    /// What the matrix products of a ``CUDATrainingBackend`` read.
    enum ProductPrecision: String, Sendable {
        /// Float32 inputs, Float32 accumulation, no TF32: the parity mode, whose gradients match
        /// the CPU trainer's to rounding.
        case fp32
        /// bf16 copies of the Float32 inputs, Float32 accumulation and output.
        case bf16
    }

    /// Row-major `C[m, n] = op(A)[m, k] · op(B)[k, n] + beta · C` (Float32 `A`, `B` and `C`, leading
    /// dimensions in elements) in the backend's ``ProductPrecision``.
    ///
    /// bf16 copies are made anew for every call, weights included: whatever updates the Float32
    /// weights between calls (the optimizer on the host or on the device), a product never reads a
    /// stale copy. The copies are dense (`ld` = their row length) so that a product on half of a
    /// wider matrix (the score head's `[out, 2W]` weight) converts that half alone.
    func product(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: UInt64, lda: Int, b: UInt64, ldb: Int,
                 beta: Float, c: UInt64, ldc: Int) throws {
        switch productPrecision {
        case .fp32:
            try device.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                            beta: beta, c: c, ldc: ldc)
        case .bf16:
            guard m > 0, n > 0 else { return }
            // As stored (row-major): A is [m, k], or [k, m] when transposed; B is [k, n], or [n, k].
            let aRows = transA ? k : m, aColumns = transA ? m : k
            let bRows = transB ? n : k, bColumns = transB ? k : n
            let aCopy = try bf16Copy(a, ld: lda, rows: aRows, columns: aColumns)
            let bCopy = try bf16Copy(b, ld: ldb, rows: bRows, columns: bColumns)
            // Both copies live until the product is enqueued (their memory is reused only by later
            // work on the same stream, which runs after it).
            try withExtendedLifetime((aCopy, bCopy)) {
                try device.gemm(transA: transA, transB: transB, m: m, n: n, k: k, inputs: .bfloat16,
                                a: aCopy.address, lda: max(aColumns, 1), b: bCopy.address, ldb: max(bColumns, 1),
                                beta: beta, c: c, ldc: ldc)
            }
        }
    }

    /// A dense bf16 copy (`rows × columns` 2-byte elements, in a Float32 array of half as many
    /// slots) of the row-major Float32 matrix at `x` with leading dimension `ld`.
    func bf16Copy(_ x: UInt64, ld: Int, rows: Int, columns: Int) throws -> CUDAFloatArray {
        let count = rows * columns
        let copy = try CUDAFloatArray(uninitialised: (count + 1) / 2, on: device)
        try module.launch("bf16_from_float_rows", elements: count,
                          [.address(x), .int64(ld), .int64(rows), .int64(columns), .address(copy.address)])
        return copy
    }
}
