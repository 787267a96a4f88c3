import Foundation
import ListConRankerCUDA

/// The GPU's ``TrainingBackend``: products on cuBLASLt in Float32 (no TF32) or, in bf16 mode, on
/// bf16 copies of their inputs with Float32 accumulation (`CUDATrainingBackend+Products.swift`);
/// everything else on the kernels of `CUDATrainingKernelSource`, each the twin of the CPU op it
/// replaces. Dropout masks come from Philox (`dropout_mask`), the CPU's generator: a pass's masks
/// are the CPU's, so GPU and CPU runs agree to rounding with dropout on too (in fp32 products). The
/// encoder's operations are in `CUDATrainingBackend+Encoder.swift`.
struct CUDATrainingBackend: TrainingBackend {
    /// What a buffer holds: one of these, so no pointer can be two at once.
    enum Contents: Equatable {
        /// Float32 elements: every buffer but the four below.
        case float32
        /// bf16 elements, a ``productOperand(_:)`` in bf16 mode.
        case bf16Operand
        /// Float32 master parameters with their bf16 copy at `bf16Copy` (``parameters(_:)`` in bf16 mode).
        case masterParameters(bf16Copy: UInt64)
        /// A Float32 activation with the bf16 copy its writers keep at `bf16Copy` (``withProductCopy(_:)``
        /// in bf16 mode): LayerNorm's and GELU's forwards and a dropout mask's multiply, nothing else.
        case activationWithCopy(bf16Copy: UInt64)
        /// A dropout mask of a byte an element, 1 where kept, whose kept value is `keptValue` = 1/(1 − p)
        /// (``dropoutMask(_:probability:)``).
        case dropoutMask(keptValue: Float)

        /// Bytes an element.
        var elementSize: Int {
            switch self {
            case .float32, .masterParameters, .activationWithCopy: 4
            case .bf16Operand: 2
            case .dropoutMask: 1
            }
        }
    }

    /// A device address into a buffer of some ``Contents``; `+ n` moves n elements (and a bf16 copy's
    /// address with them).
    struct Pointer: TrainingPointer {
        let address: UInt64
        var contents: Contents = .float32

        /// The element type: `.bfloat16` for a bf16 product operand, else `.float32`.
        var element: CUDAElement { contents == .bf16Operand ? .bfloat16 : .float32 }
        /// The bf16 copy at the same element (master parameters', an activation's), or 0.
        var copy: UInt64 {
            switch contents {
            case .masterParameters(let copy), .activationWithCopy(let copy): copy
            case .float32, .bf16Operand, .dropoutMask: 0
            }
        }
        /// A dropout mask's kept value; nil for anything else.
        var dropoutScale: Float? {
            if case .dropoutMask(let value) = contents { return value }
            return nil
        }

        static func + (base: Pointer, offset: Int) -> Pointer {
            let moved: Contents
            switch base.contents {
            case .masterParameters(let copy): moved = .masterParameters(bf16Copy: copy &+ UInt64(offset * 2))
            case .activationWithCopy(let copy): moved = .activationWithCopy(bf16Copy: copy &+ UInt64(offset * 2))
            case .float32, .bf16Operand, .dropoutMask: moved = base.contents
            }
            return Pointer(address: base.address &+ UInt64(offset * base.contents.elementSize), contents: moved)
        }
    }

    /// A buffer on the GPU of some ``Contents``.
    final class Buffer: TrainingBuffer {
        let array: CUDAFloatArray
        /// Elements (of ``Contents/elementSize`` bytes each).
        let count: Int
        let contents: Contents
        /// The bf16 copy of master parameters or of an activation, owned with them.
        let copy: CUDAFloatArray?
        init(_ array: CUDAFloatArray, count: Int? = nil, contents: Contents = .float32, copy: CUDAFloatArray? = nil) {
            (self.array, self.count, self.contents, self.copy) = (array, count ?? array.count, contents, copy)
        }
        var element: CUDAElement { pointer.element }
        var pointer: Pointer { Pointer(address: array.address, contents: contents) }
        /// Its elements' bytes and its bf16 copy's (2 an element).
        var bytes: Int { count * contents.elementSize + (copy == nil ? 0 : 2 * count) }
    }

    /// One pass's dropout masks: mask k of the pass is Philox stream k under the pass's seed.
    final class Dropout: TrainingDropout {
        private let module: CUDAKernelModule
        private let seed: UInt64
        private var stream: UInt64 = 0

        init(module: CUDAKernelModule, seed: UInt64) {
            self.module = module
            self.seed = seed
        }

        func drawMask(_ mask: Pointer, count: Int, probability p: Float) throws {
            try CUDATrainingBackend.drawMask(mask, count: count, probability: p, seed: seed, stream: stream, module: module)
            stream += 1
        }
    }

    let module: CUDAKernelModule
    /// What the matrix products read: Float32, or bf16 copies of their Float32 inputs.
    let productPrecision: ProductPrecision
    var device: CUDADevice { module.device }
    /// The last batch's row tables: a pass calls a dozen operations with the same segments.
    let tableCache = SegmentTableCache()

    /// The backend on GPU `index` with products in `productPrecision`: opens the device and
    /// compiles (or reads from the cache) the training kernels.
    init(index: Int, productPrecision: ProductPrecision = .fp32) throws {
        self.productPrecision = productPrecision
        let device = try CUDADevice.shared(index: index)
        module = try CUDAKernelModule(source: CUDATrainingKernelSource.source,
                                      kernels: CUDATrainingKernelSource.kernelNames, on: device)
    }

    func zeros(_ count: Int) throws -> Buffer { Buffer(try CUDAFloatArray(zeros: count, on: device)) }

    /// `count` slots, not cleared: for an output that what comes next writes whole (a kernel, an
    /// upload) before anything reads it, where clearing would be a wasted pass.
    func scratch(_ count: Int) throws -> Buffer { Buffer(try CUDAFloatArray(uninitialised: count, on: device)) }

    /// A dropout mask of probability `p` as bytes (uncleared): 1 where an element is kept, its value
    /// there 1/(1 − p), as the CPU computes it; a quarter of a Float32 mask's memory and traffic.
    func dropoutMask(_ count: Int, probability p: Float) throws -> Buffer {
        Buffer(try CUDAFloatArray(uninitialised: (count + 3) / 4, on: device), count: count,
               contents: .dropoutMask(keptValue: 1 / (1 - p)))
    }

    /// Mask `stream` of `seed` (Philox) into `mask`: a byte mask drawn at its own probability, or a
    /// Float32 one.
    static func drawMask(_ mask: Pointer, count: Int, probability p: Float, seed: UInt64, stream: UInt64,
                         module: CUDAKernelModule) throws {
        let key: [KernelArgument] = [.int64(Int(bitPattern: UInt(seed))), .int64(Int(bitPattern: UInt(stream)))]
        let arguments = key + [.int64(count), .float(p), .address(mask.address)]
        // A thread a Philox block of four elements.
        guard let scale = mask.dropoutScale else {
            return try module.launch("dropout_mask", elements: (count + 3) / 4, arguments)
        }
        guard scale == 1 / (1 - p) else {
            throw TrainingError.invalidInput("a dropout mask of another probability than \(p)")
        }
        try module.launch("dropout_keep", elements: (count + 3) / 4, arguments)
    }

    /// Zeros for master parameters; in bf16 mode with a bf16 copy, which ``upload(_:to:)`` and
    /// ``adamWUpdate(parameters:firstMoments:secondMoments:gradients:count:decaying:scalars:)`` keep
    /// current and the products read, instead of converting every weight at every call.
    func parameters(_ count: Int) throws -> Buffer {
        let values = try CUDAFloatArray(zeros: count, on: device)
        guard productPrecision == .bf16 else { return Buffer(values) }
        let copy = try CUDAFloatArray(zeros: (count + 1) / 2, on: device)
        return Buffer(values, contents: .masterParameters(bf16Copy: copy.address), copy: copy)
    }

    /// In bf16 mode an uncleared Float32 buffer with an uncleared bf16 copy, which LayerNorm's and
    /// GELU's forwards and a dropout mask's multiply write with it and the products read; otherwise
    /// ``scratch(_:)``.
    func withProductCopy(_ count: Int) throws -> Buffer {
        guard productPrecision == .bf16 else { return try scratch(count) }
        let values = try CUDAFloatArray(uninitialised: count, on: device)
        let copy = try CUDAFloatArray(uninitialised: (count + 1) / 2, on: device)
        return Buffer(values, contents: .activationWithCopy(bf16Copy: copy.address), copy: copy)
    }

    /// In bf16 mode Float32 values for the bf16 `copy`; in fp32 mode nil (the copy is Float32 and
    /// holds the values).
    func productCopyValues(for copy: Buffer) throws -> Buffer? {
        guard copy.contents == .bf16Operand else { return nil }
        return try scratch(copy.count)
    }

    /// `values`' address with its copy at `copy` (a bf16 operand of as many elements), or without
    /// values `copy`'s (Float32).
    func activation(_ values: Buffer?, copy: Buffer) throws -> Pointer {
        guard let values else {
            try float32(copy.pointer, "a product copy that holds its values")
            return copy.pointer
        }
        guard values.contents == .float32, copy.contents == .bf16Operand, values.count == copy.count else {
            throw TrainingError.invalidInput("an activation's values (\(values.count), \(values.contents)) and its "
                                             + "product copy (\(copy.count), \(copy.contents)) do not pair")
        }
        return Pointer(address: values.array.address, contents: .activationWithCopy(bf16Copy: copy.array.address))
    }

    /// In bf16 mode a bf16 buffer (uncleared): its writer rounds once, as the conversion before each
    /// product would, and the products read it as it is; otherwise ``scratch(_:)``.
    func productOperand(_ count: Int) throws -> Buffer {
        switch productPrecision {
        case .fp32: return try scratch(count)
        case .bf16:
            return Buffer(try CUDAFloatArray(uninitialised: (count + 1) / 2, on: device), count: count,
                          contents: .bf16Operand)
        }
    }

    func upload(_ values: [Float]) throws -> Buffer {
        let buffer = try scratch(values.count)
        try device.upload(values, to: buffer.array.address)
        return buffer
    }

    func upload(_ values: [Float], to target: Pointer) throws {
        try float32(target, "an upload's target")
        try device.upload(values, to: target.address)
        // Master parameters: their bf16 copy follows.
        guard target.copy != 0, !values.isEmpty else { return }
        try module.launch("bf16_from_float_rows", elements: values.count,
                          [.address(target.address), .int64(values.count), .int64(1), .int64(values.count),
                           .address(target.copy)])
    }

    func download(_ pointer: Pointer, count: Int) throws -> [Float] {
        try device.download(pointer.address, count: count)
    }

    func copy(_ source: Pointer, to target: Pointer, count: Int) throws {
        try written(target, "a copy's target")
        try module.launch("elementwise_copy", elements: count, [.address(target.address), .address(source.address), .int64(count)])
    }

    func dropout(seed: UInt64) -> Dropout { Dropout(module: module, seed: seed) }

    func availableBytes() throws -> Int? { try device.availableBytes() }

    /// Byte masks, and in bf16 mode bf16 product operands and copies; attention's backward takes a
    /// Float32 scratch per probability.
    var activationStorage: ActivationStorage { productPrecision == .bf16 ? .gpuBF16 : .gpuFP32 }

    // MARK: Products

    func linearForward(y: Pointer, x: Pointer, w: Pointer, b: Pointer?, rows: Int, inFeatures: Int,
                       outFeatures: Int) throws {
        guard rows > 0 else { return }
        // A bf16 product operand (in bf16 mode, an output only products read: attention's qkv) is
        // written rounded once from the Float32 sum, as converting a Float32 output would round it.
        try operand(y, "a linear layer's output")
        guard y.element == .float32 || productPrecision == .bf16 else {
            throw TrainingError.invalidInput("a linear layer's output is a bf16 operand, but its products are fp32")
        }
        // The bias is added in the product's epilogue (no second pass over y) when it is 16-byte
        // aligned, as the epilogue needs; otherwise by a kernel after it, the same single rounding
        // (of a bf16 output, from a Float32 product written first).
        let epilogueBias = b.flatMap { $0.address % 16 == 0 ? $0 : nil }
        let sum = b != nil && epilogueBias == nil && y.element == .bfloat16
            ? try scratch(rows * outFeatures).array : nil
        let xInput = try productInput(x, ld: inFeatures, rows: rows, columns: inFeatures)
        let wInput = try productInput(w, ld: inFeatures, rows: outFeatures, columns: inFeatures)
        try withExtendedLifetime((xInput.copy, wInput.copy)) {
            try device.linear(x: xInput.address, weight: wInput.address, bias: epilogueBias?.address ?? 0,
                              y: sum?.address ?? y.address, rows: rows, n: outFeatures, k: inFeatures,
                              inputs: productElement, output: sum == nil ? y.element : .float32)
        }
        guard let b, epilogueBias == nil else { return }
        let shape: [KernelArgument] = [.address(b.address), .int64(rows), .int32(Int32(outFeatures))]
        if let sum {
            try module.launch("add_bias_rows_bf16", elements: rows * outFeatures,
                              [.address(sum.address)] + shape + [.address(y.address)])
        } else {
            try module.launch("add_bias_rows", elements: rows * outFeatures, [.address(y.address)] + shape)
        }
    }

    func linearBackward(dx: Pointer?, dxWrite: GradientWrite, dw: Pointer?, db: Pointer?, dy: Pointer, x: Pointer,
                        w: Pointer, rows: Int, inFeatures: Int, outFeatures: Int) throws {
        guard rows > 0 else { return }
        // dy feeds both products: converted once in bf16 mode, unless it is a bf16 operand already,
        // which the column sums read too.
        let dyInput = try productInput(dy, ld: outFeatures, rows: rows, columns: outFeatures)
        if let dx {
            // A bf16 product operand (in bf16 mode, an input gradient only products read: the
            // encoder's dcontext, read by attention's) is written rounded once from the Float32 sum.
            try operand(dx, "a linear layer's input gradient")
            guard dx.element == .float32 || (productPrecision == .bf16 && dxWrite == .replace) else {
                throw TrainingError.invalidInput("a linear layer's input gradient in bf16 is written, in bf16 mode only")
            }
            let wInput = try productInput(w, ld: inFeatures, rows: outFeatures, columns: inFeatures)
            try product(transA: false, transB: false, m: rows, n: inFeatures, k: outFeatures, a: dyInput, b: wInput,
                        beta: dxWrite == .add ? 1 : 0, c: dx.address, ldc: inFeatures, output: dx.element)
        }
        if let dw {
            let xInput = try productInput(x, ld: inFeatures, rows: rows, columns: inFeatures)
            try product(transA: true, transB: false, m: outFeatures, n: inFeatures, k: rows, a: dyInput, b: xInput,
                        beta: 1, c: dw.address, ldc: inFeatures)
        }
        guard let db else { return }
        try columnSums(dy, rows: rows, width: outFeatures, into: db)
    }

    /// `out[j] += Σ_r x[r, j]` in two passes (`column_chunk_sums`, then `add_chunk_sums`) of a Float32
    /// or bf16 `x`, summed in Float32.
    func columnSums(_ x: Pointer, rows: Int, width: Int, into out: Pointer) throws {
        guard x.dropoutScale == nil else { throw TrainingError.invalidInput("a column sum's input is a dropout mask") }
        let kernel = x.element == .bfloat16 ? "column_chunk_sums_bf16" : "column_chunk_sums"
        try chunkedColumnSums(rows: rows, width: width, into: [out]) { grid, chunk, chunks in
            try module.launch(kernel, grid: grid, block: 128,
                              [.address(x.address), .int32(Int32(rows)), .int32(Int32(width)), .int32(Int32(chunk)),
                               .address(chunks[0].address)])
        }
    }

    /// Column sums of `[rows, width]` matrices in two passes. `firstPass` launches a kernel on `grid`
    /// (blocks of 128 columns, one per chunk of `chunk` rows: ``rowChunks(_:)``, or `rowsPerChunk`
    /// when given) that writes each (chunk, column)'s sum of the i-th matrix into `chunks[i]`,
    /// `[count, width]`; then `add_chunk_sums` adds them, chunk after chunk, to `outputs[i]`.
    /// Nothing runs for no rows.
    private func chunkedColumnSums(rows: Int, width: Int, into outputs: [Pointer], rowsPerChunk: Int? = nil,
                                   firstPass: (_ grid: (Int, Int, Int), _ chunk: Int, _ chunks: [CUDAFloatArray]) throws
                                       -> Void) throws {
        guard rows > 0 else { return }
        let (chunk, count) = rowsPerChunk.map { ($0, (rows + $0 - 1) / $0) } ?? Self.rowChunks(rows)
        let chunks = try outputs.map { _ in try scratch(count * width).array }   // every (chunk, column) is written
        try firstPass(((width + 127) / 128, count, 1), chunk, chunks)
        for (sums, out) in zip(chunks, outputs) {
            try module.launch("add_chunk_sums", grid: ((width + 127) / 128, 1, 1), block: 128,
                              [.address(sums.address), .int32(Int32(count)), .int32(Int32(width)), .address(out.address)])
        }
    }

    /// The rows each chunk of a two-pass column sum adds (128, more when the chunks would
    /// outnumber a grid's second dimension), and how many chunks cover `rows`.
    static func rowChunks(_ rows: Int) -> (chunk: Int, count: Int) {
        let chunk = max(128, (rows + 65_534) / 65_535)
        return (chunk, (rows + chunk - 1) / chunk)
    }

    // MARK: Normalisation, activations, element-wise

    /// An activation with a product copy gets its copy written too.
    func layerNormForward(y: Pointer, mean: Pointer, rstd: Pointer, x: Pointer, gamma: Pointer, beta: Pointer,
                          rows: Int, width: Int, eps: Float) throws {
        try layerNormForward(y: y, mean: mean, rstd: rstd, x: x, join: nil, gamma: gamma, beta: beta, rows: rows,
                             width: width, eps: eps)
    }

    /// The same kernel joins the branch as its first pass reads it.
    func layerNormForward(y: Pointer, mean: Pointer, rstd: Pointer, joining x: Pointer, maskedBy mask: Pointer?,
                          to residual: Pointer, gamma: Pointer, beta: Pointer, rows: Int, width: Int,
                          eps: Float) throws {
        try layerNormForward(y: y, mean: mean, rstd: rstd, x: x, join: (residual, mask), gamma: gamma, beta: beta,
                             rows: rows, width: width, eps: eps)
    }

    /// `layer_norm_forward_train`, joining `x` to `join`'s residual (under its byte mask) first when given:
    /// `x` is then written, so it must be a plain Float32 buffer.
    private func layerNormForward(y: Pointer, mean: Pointer, rstd: Pointer, x: Pointer,
                                  join: (residual: Pointer, mask: Pointer?)?, gamma: Pointer, beta: Pointer, rows: Int,
                                  width: Int, eps: Float) throws {
        try writtenWithCopy(y, "LayerNorm's output")
        var joinArguments: [KernelArgument] = [.address(0), .address(0), .float(0)]
        if let join {
            try written(x, "a residual join's branch")
            try float32(join.residual, "a residual")
            joinArguments = [.address(join.residual.address), .address(join.mask?.address ?? 0),
                             .float(try join.mask.map(byteMaskScale) ?? 0)]
        } else {
            try float32(x, "LayerNorm's input")
        }
        try module.launch("layer_norm_forward_train", grid: (rows, 1, 1), block: 256,
                          [.address(x.address)] + joinArguments
                            + [.address(gamma.address), .address(beta.address), .float(eps), .int32(Int32(width)),
                               .address(y.address), .address(mean.address), .address(rstd.address), .address(y.copy)])
    }

    /// One kernel (`layer_norm_backward`) reads dy and x once for the input gradient and the first pass
    /// of γ's and β's column sums, a block per chunk of ``layerNormChunkRows`` rows (enough blocks to fill
    /// a GPU for a micro-batch's thousands of rows), each thread holding 4 columns' sums (16 in the
    /// `_wide` kernel, for rows over 4,096 values).
    func layerNormBackward(dx: Pointer, dxWrite: GradientWrite, dgamma: Pointer, dbeta: Pointer, dy: Pointer,
                           x: Pointer, mean: Pointer, rstd: Pointer, gamma: Pointer, rows: Int, width: Int) throws {
        try layerNormBackward(dx: dx, dxWrite: dxWrite, masked: nil, dgamma: dgamma, dbeta: dbeta, dy: dy, x: x,
                              mean: mean, rstd: rstd, gamma: gamma, rows: rows, width: width)
    }

    /// The same kernel writes the masked branch gradient as it writes dx.
    func layerNormBackward(dx: Pointer, maskedBy mask: Pointer, into branch: Pointer, dgamma: Pointer, dbeta: Pointer,
                           dy: Pointer, x: Pointer, mean: Pointer, rstd: Pointer, gamma: Pointer, rows: Int,
                           width: Int) throws {
        try layerNormBackward(dx: dx, dxWrite: .replace, masked: (mask, branch), dgamma: dgamma, dbeta: dbeta, dy: dy,
                              x: x, mean: mean, rstd: rstd, gamma: gamma, rows: rows, width: width)
    }

    /// `masked`: a byte mask and the branch gradient the kernel writes with dx, or none.
    private func layerNormBackward(dx: Pointer, dxWrite: GradientWrite, masked: (mask: Pointer, branch: Pointer)?,
                                   dgamma: Pointer, dbeta: Pointer, dy: Pointer, x: Pointer, mean: Pointer,
                                   rstd: Pointer, gamma: Pointer, rows: Int, width: Int) throws {
        try written(dx, "LayerNorm's input gradient")
        if let masked { try operand(masked.branch, "a masked branch's gradient") }
        let branch: [KernelArgument] = try masked.map {
            [.address($0.mask.address), .float(try byteMaskScale($0.mask)), .address($0.branch.address),
             Self.isBF16($0.branch)]
        } ?? [.address(0), .float(0), .address(0), .int32(0)]
        let (kernel, columnsPerThread) = width <= 4 * 1024 ? ("layer_norm_backward", 4) : ("layer_norm_backward_wide", 16)
        let threads = max(64, (width + columnsPerThread * 32 - 1) / (columnsPerThread * 32) * 32)
        guard threads <= 1024 else {
            throw TrainingError.invalidInput("LayerNorm's backward on a GPU takes rows of up to \(16 * 1024) values, not \(width)")
        }
        try chunkedColumnSums(rows: rows, width: width, into: [dgamma, dbeta],
                              rowsPerChunk: Self.layerNormChunkRows) { grid, chunk, chunks in
            try module.launch(kernel, grid: (grid.1, 1, 1), block: threads,
                              [.address(dy.address), .address(x.address), .address(mean.address), .address(rstd.address),
                               .address(gamma.address), .int32(Int32(rows)), .int32(Int32(width)), .int32(Int32(chunk)),
                               .int32(dxWrite == .replace ? 1 : 0), .address(dx.address), .address(chunks[0].address),
                               .address(chunks[1].address)] + branch)
        }
    }

    /// Rows a block of LayerNorm's backward takes in turn: 420 blocks for the 6,720 rows of a BERT-large
    /// micro-batch of 2 lists.
    static let layerNormChunkRows = 16

    /// A bf16 product operand gets the rounding of the output, an activation with a product copy its copy too.
    func geluForward(y: Pointer, x: Pointer, count: Int) throws {
        try float32(x, "GELU's input")
        let arguments: [KernelArgument] = [.address(x.address), .int64(count), .address(y.address)]
        if y.element == .bfloat16 { return try module.launch("gelu_forward_train_bf16", elements: count, arguments) }
        try writtenWithCopy(y, "GELU's output")
        try module.launch("gelu_forward_train", elements: count, arguments + [.address(y.copy)])
    }

    /// `dy` and `dx` each Float32 or a bf16 product operand (in the encoder's backward in bf16 mode both:
    /// the output layer's product writes dy in bf16, as autocast's input gradient is).
    func geluBackward(dx: Pointer, dy: Pointer, x: Pointer, count: Int) throws {
        try operand(dy, "GELU's output gradient")
        try float32(x, "GELU's input")
        try operand(dx, "GELU's input gradient")
        try module.launch("gelu_backward", elements: count,
                          [.address(dy.address), Self.isBF16(dy), .address(x.address), .int64(count),
                           .address(dx.address), Self.isBF16(dx)])
    }

    /// One kernel for the re-run, the backward and the bias gradient's first pass: it reads `x` once,
    /// for both outputs (each Float32 or a bf16 product operand, as `dy` is), and sums `dx` in the
    /// column chunks of ``columnSums(_:rows:width:into:)`` as it writes it (the same sums, in the same
    /// order).
    func geluForwardBackward(y: Pointer, dx: Pointer, dy: Pointer, x: Pointer, rows: Int, width: Int,
                             biasGradient: Pointer) throws {
        try float32(x, "GELU's input")
        try operand(dy, "GELU's output gradient")
        try operand(y, "GELU's output")
        try operand(dx, "GELU's input gradient")
        try chunkedColumnSums(rows: rows, width: width, into: [biasGradient]) { grid, chunk, chunks in
            try module.launch("gelu_forward_backward", grid: grid, block: 128,
                              [.address(dy.address), Self.isBF16(dy), .address(x.address), .int32(Int32(rows)),
                               .int32(Int32(width)), .int32(Int32(chunk)), .address(y.address), Self.isBF16(y),
                               .address(dx.address), Self.isBF16(dx), .address(chunks[0].address)])
        }
    }

    /// A kernel's flag for an operand that may be either type: 1 for a bf16 product operand, 0 for Float32.
    static func isBF16(_ x: Pointer) -> KernelArgument { .int32(x.element == .bfloat16 ? 1 : 0) }

    func reluForward(y: Pointer, yStride: Int, x: Pointer, xStride: Int, rows: Int, width: Int) throws {
        try module.launch("relu_forward_rows", elements: rows * width,
                          [.address(x.address), .int64(xStride), .int64(rows), .int32(Int32(width)), .address(y.address),
                           .int64(yStride)])
    }

    func reluBackward(dx: Pointer, dxStride: Int, dy: Pointer, dyStride: Int, x: Pointer, xStride: Int, rows: Int,
                      width: Int) throws {
        try module.launch("relu_backward_rows", elements: rows * width,
                          [.address(dy.address), .int64(dyStride), .address(x.address), .int64(xStride), .int64(rows),
                           .int32(Int32(width)), .address(dx.address), .int64(dxStride)])
    }

    /// A byte mask's multiply keeps an activation's product copy current.
    func multiply(_ x: Pointer, by y: Pointer, count: Int) throws {
        if let scale = y.dropoutScale {
            try writtenWithCopy(x, "a product's factor")
            try module.launch("multiply_by_dropout_mask", elements: count,
                              [.address(x.address), .address(y.address), .float(scale), .int64(count), .address(x.copy)])
            return
        }
        try written(x, "a product's factor")
        try module.launch("elementwise_multiply", elements: count, [.address(x.address), .address(y.address), .int64(count)])
    }

    func multiply(_ x: Pointer, by y: Pointer, into z: Pointer, count: Int) throws {
        try float32(x, "a product's factor")
        try operand(z, "a product's output")
        let scale = try byteMaskScale(y)
        let kernel = z.element == .bfloat16 ? "dropout_mask_product_bf16" : "dropout_mask_product"
        try module.launch(kernel, elements: count,
                          [.address(x.address), .address(y.address), .float(scale), .int64(count), .address(z.address)])
    }

    /// The kept value of a byte dropout mask; throws for anything else (a Float32 mask), which the
    /// fused mask kernels and attention do not read.
    func byteMaskScale(_ mask: Pointer) throws -> Float {
        guard let scale = mask.dropoutScale else {
            throw TrainingError.invalidInput("a dropout mask of bytes (dropoutMask(_:probability:)) was expected")
        }
        return scale
    }

    // MARK: The list head's layers

    /// Row indices and lengths of a batch's segments on the device.
    struct SegmentTables {
        let starts: CUDAFloatArray, lengths: CUDAFloatArray
        /// Each list's first row.
        let queryRows: CUDAFloatArray
        /// The rows after each list's first, in order.
        let passageRows: CUDAFloatArray
        /// 1 on each list's first row, else 0.
        let tags: CUDAFloatArray

        init(_ segments: [Range<Int>], device: CUDADevice) throws {
            starts = try device.upload(int32: segments.map { Int32($0.lowerBound) })
            lengths = try device.upload(int32: segments.map { Int32($0.count) })
            queryRows = starts
            passageRows = try device.upload(int32: segments.flatMap { $0.dropFirst().map { Int32($0) } })
            var tags = [Int32](repeating: 0, count: segments.last?.upperBound ?? 0)
            for segment in segments { tags[segment.lowerBound] = 1 }
            self.tags = try device.upload(int32: tags)
        }
    }

    /// The tables of the segments last asked for, uploaded once for all the operations of a pass,
    /// and where each (list, head) block of attention probabilities starts for a number of heads
    /// (as ListAttentionOps lays them out).
    final class SegmentTableCache: @unchecked Sendable {
        private let lock = NSLock()
        private var segments: [Range<Int>] = []
        private var tables: SegmentTables?
        private var offsets: [Int: CUDAFloatArray] = [:]

        func tables(_ segments: [Range<Int>], device: CUDADevice) throws -> SegmentTables {
            try lock.withLock { try current(segments, device) }
        }

        func probabilityOffsets(_ segments: [Range<Int>], heads: Int, device: CUDADevice) throws -> CUDAFloatArray {
            try lock.withLock {
                _ = try current(segments, device)
                if let known = offsets[heads] { return known }
                var starts = [Int64](), offset: Int64 = 0
                for segment in segments {
                    starts.append(offset)
                    offset += Int64(heads * segment.count * segment.count)
                }
                let uploaded = try device.upload(int64: starts)
                offsets[heads] = uploaded
                return uploaded
            }
        }

        /// Under the lock: the tables of `segments`, made anew when they differ from the last.
        private func current(_ segments: [Range<Int>], _ device: CUDADevice) throws -> SegmentTables {
            if let tables, self.segments == segments { return tables }
            let made = try SegmentTables(segments, device: device)
            (self.segments, tables, offsets) = (segments, made, [:])
            return made
        }
    }

    /// The row tables of `segments` (lists, or the encoder's texts) on the device.
    func tables(_ segments: [Range<Int>]) throws -> SegmentTables {
        try tableCache.tables(segments, device: device)
    }

    /// Where each (segment, head) block of attention probabilities starts (`Int64`, text after
    /// text), as ListAttentionOps and EncoderAttentionOps lay them out.
    func probabilityOffsets(_ segments: [Range<Int>], heads: Int) throws -> CUDAFloatArray {
        try tableCache.probabilityOffsets(segments, heads: heads, device: device)
    }

    func addQueryTags(out: Pointer, f: Pointer, tags: Pointer, segments: [Range<Int>], width: Int) throws {
        let tables = try tables(segments)
        try module.launch("add_row_tags", grid: (segments.last?.upperBound ?? 0, 1, 1), block: 256,
                          [.address(f.address), .address(tags.address), .address(tables.tags.address),
                           .int32(Int32(width)), .address(out.address)])
    }

    func queryTagsBackward(df: Pointer, dtags: Pointer, dout: Pointer, segments: [Range<Int>], width: Int) throws {
        let rows = segments.last?.upperBound ?? 0
        let tables = try tables(segments)
        try module.launch("elementwise_add", elements: rows * width,
                          [.address(df.address), .address(dout.address), .int64(rows * width)])
        try module.launch("row_tag_gradients", grid: ((width + 127) / 128, 1, 1), block: 128,
                          [.address(dout.address), .address(tables.tags.address), .int32(Int32(rows)),
                           .int32(Int32(width)), .address(dtags.address)])
    }

    func listAttentionForward(context: Pointer, probabilities: Pointer, mask: Pointer?, qkv: Pointer,
                              segments: [Range<Int>], width: Int, heads: Int) throws {
        try attentionForward(context: context, rowLogSumExp: probabilities, mask: mask, qkv: qkv, segments: segments,
                             width: width, heads: heads, firstRowAlone: true)
    }

    func listAttentionBackward(dqkv: Pointer, dqkvWrite: GradientWrite, dcontext: Pointer, probabilities: Pointer,
                               mask: Pointer?, qkv: Pointer, segments: [Range<Int>], width: Int, heads: Int) throws {
        try attentionBackward(dqkv: dqkv, dqkvWrite: dqkvWrite, dcontext: dcontext, rowLogSumExp: probabilities, mask: mask,
                              qkv: qkv, segments: segments, width: width, heads: heads, firstRowAlone: true)
    }

    /// One thread a list (`circle_loss`), reading the segments' row tables: the ones the head's own
    /// operations uploaded for the micro-batch, so the loss uploads none.
    func circleLoss(_ loss: CircleLoss, dlogits: Pointer, losses: Pointer, logits: Pointer, relevant: Pointer,
                    segments: [Range<Int>], divisor: Int) throws {
        _ = try CircleLoss.listLengths(ofRows: segments, divisor: divisor)
        try written(dlogits, "the logits' gradient")
        try written(losses, "the lists' losses")
        try float32(logits, "the logits")
        try float32(relevant, "the passages' labels")
        let rows = try tables(segments)
        try module.launch("circle_loss", grid: ((segments.count + 63) / 64, 1, 1), block: 64,
                          [.address(logits.address), .address(relevant.address), .address(rows.starts.address),
                           .address(rows.lengths.address), .int32(Int32(segments.count)), .float(loss.margin),
                           .float(loss.scale), .int32(Int32(divisor)), .address(losses.address),
                           .address(dlogits.address)])
    }

    func splitQueryRows(rows: Pointer, queries: Pointer, passages: Pointer, segments: [Range<Int>], width: Int) throws {
        let tables = try tables(segments)
        try module.launch("gather_rows", grid: (segments.count, 1, 1), block: 256,
                          [.address(rows.address), .address(tables.queryRows.address), .int32(Int32(width)),
                           .address(queries.address)])
        try module.launch("gather_rows", grid: (ScorePairs.passageCount(segments), 1, 1), block: 256,
                          [.address(rows.address), .address(tables.passageRows.address), .int32(Int32(width)),
                           .address(passages.address)])
    }

    func mergeQueryRows(drows: Pointer, dqueries: Pointer, dpassages: Pointer, segments: [Range<Int>],
                        width: Int) throws {
        let tables = try tables(segments)
        try module.launch("scatter_add_rows", grid: (segments.count, 1, 1), block: 256,
                          [.address(dqueries.address), .address(tables.queryRows.address), .int32(Int32(width)),
                           .address(drows.address)])
        try module.launch("scatter_add_rows", grid: (ScorePairs.passageCount(segments), 1, 1), block: 256,
                          [.address(dpassages.address), .address(tables.passageRows.address), .int32(Int32(width)),
                           .address(drows.address)])
    }

    func scorePairsForward(y: Pointer, queries: Pointer, passages: Pointer, queryProducts: Pointer, w: Pointer,
                           b: Pointer, segments: [Range<Int>], width: Int, outFeatures: Int) throws {
        let lists = segments.count, passageCount = ScorePairs.passageCount(segments)
        try product(transA: false, transB: true, m: lists, n: outFeatures, k: width, a: queries.address, lda: width,
                        b: w.address, ldb: 2 * width, beta: 0, c: queryProducts.address, ldc: outFeatures)
        try product(transA: false, transB: true, m: passageCount, n: outFeatures, k: width, a: passages.address,
                        lda: width, b: (w + width).address, ldb: 2 * width, beta: 0, c: y.address, ldc: outFeatures)
        // Each passage row adds its list's query product and the bias.
        let listOfPassage = try device.upload(int32: segments.enumerated().flatMap { list, segment in
            [Int32](repeating: Int32(list), count: segment.count - 1)
        })
        try module.launch("add_broadcast_rows", grid: (passageCount, 1, 1), block: 256,
                          [.address(y.address), .address(queryProducts.address), .address(listOfPassage.address),
                           .address(b.address), .int32(Int32(outFeatures))])
    }

    func scorePairsBackward(dqueries: Pointer, dpassages: Pointer, dw: Pointer, db: Pointer, dy: Pointer,
                            querySums: Pointer, queries: Pointer, passages: Pointer, w: Pointer,
                            segments: [Range<Int>], width: Int, outFeatures: Int) throws {
        let lists = segments.count, passageCount = ScorePairs.passageCount(segments)
        // Each list's Σ dy over its passages (rows of dy, list after list), and the bias's Σ over all.
        let passageStarts = try device.upload(int32: segments.indices.map { Int32(ScorePairs.passageRows(of: $0, segments).lowerBound) })
        let passageCounts = try device.upload(int32: segments.map { Int32($0.count - 1) })
        try module.launch("segment_row_sums", grid: ((outFeatures + 127) / 128, lists, 1), block: 128,
                          [.address(dy.address), .address(passageStarts.address), .address(passageCounts.address),
                           .int32(Int32(outFeatures)), .address(querySums.address)])
        try columnSums(dy, rows: passageCount, width: outFeatures, into: db)
        // Passage half: dW_x += dyᵀ · passages, dpassages = dy · W_x (dy converted once in bf16 mode).
        let dyInput = try productInput(dy.address, ld: outFeatures, rows: passageCount, columns: outFeatures)
        try product(transA: true, transB: false, m: outFeatures, n: width, k: passageCount, a: dyInput,
                    b: try productInput(passages.address, ld: width, rows: passageCount, columns: width), beta: 1,
                    c: (dw + width).address, ldc: 2 * width)
        try product(transA: false, transB: false, m: passageCount, n: width, k: outFeatures, a: dyInput,
                    b: try productInput((w + width).address, ld: 2 * width, rows: outFeatures, columns: width), beta: 0,
                    c: dpassages.address, ldc: width)
        // Query half: dW_q += sumsᵀ · queries, dqueries = sums · W_q.
        let sumsInput = try productInput(querySums.address, ld: outFeatures, rows: lists, columns: outFeatures)
        try product(transA: true, transB: false, m: outFeatures, n: width, k: lists, a: sumsInput,
                    b: try productInput(queries.address, ld: width, rows: lists, columns: width), beta: 1,
                    c: dw.address, ldc: 2 * width)
        try product(transA: false, transB: false, m: lists, n: width, k: outFeatures, a: sumsInput,
                    b: try productInput(w.address, ld: 2 * width, rows: outFeatures, columns: width), beta: 0,
                    c: dqueries.address, ldc: width)
    }
}
