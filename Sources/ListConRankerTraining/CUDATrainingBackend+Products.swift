import ListConRankerCUDA

/// The GPU trainer's matrix products in either precision (issue 30): mixed precision as PyTorch's
/// autocast does it for `nn.Linear`. In bf16 mode each product reads bf16 copies of its two Float32
/// inputs (rounded to nearest even by `bf16_from_float_rows`, as `.to(torch.bfloat16)` rounds) and
/// accumulates in Float32 into its Float32 output, so `beta = 1` still adds dX and dW into Float32
/// gradients. Attention's own products follow the same mode in their kernels
/// (`CUDATrainingBackend+Attention.swift`). Master weights, gradients, LayerNorm, GELU, softmax and
/// the optimizer stay Float32 whatever the mode.
extension CUDATrainingBackend {
    /// What the matrix products of a ``CUDATrainingBackend`` read.
    enum ProductPrecision: String, Sendable {
        /// Float32 inputs, Float32 accumulation, no TF32: the parity mode, whose gradients match
        /// the CPU trainer's to rounding.
        case fp32
        /// bf16 copies of the Float32 inputs, Float32 accumulation and output.
        case bf16
    }

    /// The element type the products read: Float32, or bf16 copies.
    var productElement: CUDAElement { productPrecision == .bf16 ? .bfloat16 : .float32 }

    /// A matrix as the products read it: the Float32 matrix itself, or in bf16 mode its dense bf16
    /// copy, so that a matrix that feeds two products (a backward's incoming gradient: `dX = dY·W`
    /// and `dW = dYᵀ·X`) is converted once.
    struct ProductInput {
        /// Where the product reads it: the Float32 matrix, or its copy.
        let address: UInt64
        /// Its leading dimension as read, in elements.
        let ld: Int
        /// The bf16 copy this input owns, kept alive with it.
        let copy: CUDAFloatArray?
    }

    /// The row-major Float32 matrix at `x` (`rows × columns` as stored, leading dimension `ld`) as
    /// the backend's products read it.
    ///
    /// bf16 copies are made anew for every call, weights included: whatever updates the Float32
    /// weights between calls (the optimizer on the host or on the device), a product never reads a
    /// stale copy. The copies are dense (`ld` = their row length) so that a product on half of a
    /// wider matrix (the score head's `[out, 2W]` weight) converts that half alone.
    func productInput(_ x: UInt64, ld: Int, rows: Int, columns: Int) throws -> ProductInput {
        switch productPrecision {
        case .fp32: return ProductInput(address: x, ld: ld, copy: nil)
        case .bf16:
            let copy = try bf16Copy(x, ld: ld, rows: rows, columns: columns)
            return ProductInput(address: copy.address, ld: max(columns, 1), copy: copy)
        }
    }

    /// Row-major `C[m, n] = op(A)[m, k] · op(B)[k, n] + beta · C` (Float32 `A`, `B` and `C`, leading
    /// dimensions in elements) in the backend's ``ProductPrecision``.
    func product(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: UInt64, lda: Int, b: UInt64, ldb: Int,
                 beta: Float, c: UInt64, ldc: Int) throws {
        guard m > 0, n > 0 else { return }
        // As stored (row-major): A is [m, k], or [k, m] when transposed; B is [k, n], or [n, k].
        let a = try productInput(a, ld: lda, rows: transA ? k : m, columns: transA ? m : k)
        let b = try productInput(b, ld: ldb, rows: transB ? n : k, columns: transB ? k : n)
        try product(transA: transA, transB: transB, m: m, n: n, k: k, a: a, b: b, beta: beta, c: c, ldc: ldc)
    }

    /// `C[m, n] = op(A)[m, k] · op(B)[k, n] + beta · C` of two inputs made by ``productInput(_:ld:rows:columns:)``
    /// (Float32 accumulation in either precision; `output` Float32, or bf16 in bf16 mode: the sum
    /// rounded once, an output only products read).
    func product(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: ProductInput, b: ProductInput, beta: Float,
                 c: UInt64, ldc: Int, output: CUDAElement = .float32) throws {
        guard m > 0, n > 0 else { return }
        // A copy lives until the product is enqueued (its memory is reused only by later work on
        // the same stream, which runs after it).
        try withExtendedLifetime((a.copy, b.copy)) {
            try device.gemm(transA: transA, transB: transB, m: m, n: n, k: k, inputs: productElement, output: output,
                            a: a.address, lda: a.ld, b: b.address, ldb: b.ld, beta: beta, c: c, ldc: ldc)
        }
    }

    /// `x` as the products read it: a ``productOperand(_:)`` (already bf16 in bf16 mode) as it is, and
    /// master parameters through their bf16 copy (``parameters(_:)``).
    func productInput(_ x: Pointer, ld: Int, rows: Int, columns: Int) throws -> ProductInput {
        switch x.contents {
        case .masterParameters(let copy), .activationWithCopy(let copy):
            // Only bf16 mode makes copies (``parameters(_:)``, ``withProductCopy(_:)``).
            return ProductInput(address: copy, ld: ld, copy: nil)
        case .float32: return try productInput(x.address, ld: ld, rows: rows, columns: columns)
        case .bf16Operand:
            guard productPrecision == .bf16 else {
                throw TrainingError.invalidInput("a bf16 operand for a product in \(productPrecision.rawValue)")
            }
            return ProductInput(address: x.address, ld: ld, copy: nil)
        case .dropoutMask: throw TrainingError.invalidInput("a product's input is a dropout mask")
        }
    }

    /// Throws unless `x` points at Float32 elements: an operation other than a product was handed a
    /// bf16 product operand, or one other than multiply and attention a dropout mask.
    func float32(_ x: Pointer, _ role: String) throws {
        switch x.contents {
        case .float32, .masterParameters, .activationWithCopy: return
        case .bf16Operand:
            throw TrainingError.invalidInput("\(role) is a bf16 product operand; only products read those")
        case .dropoutMask:
            throw TrainingError.invalidInput("\(role) is a dropout mask; only multiply and attention read those")
        }
    }

    /// Throws unless `x` is Float32 or a bf16 product operand: an operation that writes either (a
    /// gradient that only products and column sums read) was handed a mask, parameters or an
    /// activation whose copy it would leave stale.
    func operand(_ x: Pointer, _ role: String) throws {
        switch x.contents {
        case .float32, .bf16Operand: return
        case .masterParameters: throw TrainingError.invalidInput("\(role) is the master parameters")
        case .activationWithCopy: throw TrainingError.invalidInput("\(role) keeps a bf16 copy; only LayerNorm, GELU and a mask write it")
        case .dropoutMask:
            throw TrainingError.invalidInput("\(role) is a dropout mask; only multiply and attention read those")
        }
    }

    /// Throws unless an element-wise operation may write `x`: Float32, and not master parameters,
    /// whose bf16 copy only an upload and the AdamW step keep current, nor an activation with a copy.
    func written(_ x: Pointer, _ role: String) throws {
        try float32(x, role)
        switch x.contents {
        case .float32: return
        case .activationWithCopy:
            throw TrainingError.invalidInput("\(role) keeps a bf16 copy, which only LayerNorm, GELU and a dropout mask write")
        default:
            throw TrainingError.invalidInput("\(role) is the master parameters, which only uploads and AdamW write")
        }
    }

    /// Throws unless an operation that keeps a product copy current (LayerNorm's and GELU's forwards,
    /// a byte mask's multiply) may write `x`: Float32, or an activation with its copy.
    func writtenWithCopy(_ x: Pointer, _ role: String) throws {
        if case .activationWithCopy = x.contents { return }
        try written(x, role)
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
