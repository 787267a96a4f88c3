import CCUDA
import Foundation
import ListConRankerTensor

/// The GPU backend: products on cuBLASLt (bias and ReLU in its epilogues, Float32 accumulation,
/// no TF32), everything else in the NVRTC-compiled kernels of ``CUDAKernelSource``. Weights are
/// uploaded once and stay on the GPU; matrices a product reads are in the precision's element
/// type, the residual stream, LayerNorm, softmax and pooling are Float32.
public struct CUDABackend: ComputeBackend {
    public typealias Matrix = CUDAMatrix
    public typealias Table = CUDAMatrix

    /// A product's weights on the GPU.
    public struct Product: Sendable {
        let weight: CUDAMatrix          // [n, k] in the product element type
        let bias: CUDAMatrix?           // [n] Float32
        let activation: ProductActivation
        let output: CUDAElement
    }

    /// A LayerNorm's parameters on the GPU.
    public struct Normalization: Sendable {
        let gamma: CUDAMatrix
        let beta: CUDAMatrix
        let eps: Float
    }

    public let precision: Precision
    /// The GPU.
    public let device: CUDADevice
    /// What matrix products read: Float32, BFloat16 or IEEE half.
    let productElement: CUDAElement

    /// The backend for GPU `index` in `precision` (fp32: Float32 products without TF32, the parity
    /// mode; bf16 and fp16: 16-bit inputs, Float32 accumulation).
    public init(index: Int, precision: Precision) throws {
        device = try CUDADevice.shared(index: index)
        self.precision = precision
        switch precision {
        case .fp32: productElement = .float32
        case .bf16: productElement = .bfloat16
        case .fp16: productElement = .float16
        case .int8: throw CUDAError("--precision int8 runs on the CPU only: on a GPU use bf16, fp16 or fp32")
        }
    }

    // MARK: Weights

    public func product(weight: Tensor, bias: Tensor?, activation: ProductActivation, feedsProduct: Bool) throws -> Product {
        guard weight.shape.count == 2 else { throw CUDAError("product: weight must be 2-D, got \(weight.shape)") }
        if let bias, bias.count != weight.shape[0] {
            throw CUDAError("product: bias \(bias.shape) does not match \(weight.shape[0]) outputs")
        }
        return Product(weight: try upload(weight, as: productElement),
                       bias: try bias.map { try upload($0.reshaped([1, $0.count]), as: .float32) },
                       activation: activation, output: feedsProduct ? productElement : .float32)
    }

    public func normalization(gamma: Tensor, beta: Tensor, eps: Float) throws -> Normalization {
        Normalization(gamma: try upload(gamma.reshaped([1, gamma.count]), as: .float32),
                      beta: try upload(beta.reshaped([1, beta.count]), as: .float32), eps: eps)
    }

    public func table(_ rows: Tensor) throws -> CUDAMatrix {
        guard rows.shape.count == 2 else { throw CUDAError("table: rows must be 2-D, got \(rows.shape)") }
        return try upload(rows, as: .float32)
    }

    // MARK: Host ↔ device

    public func upload(_ x: Tensor) throws -> CUDAMatrix {
        guard x.shape.count == 2 else { throw CUDAError("upload: a matrix must be 2-D, got \(x.shape)") }
        return try upload(x, as: .float32)
    }

    public func download(_ x: CUDAMatrix, rows: Int) throws -> Tensor {
        guard rows >= 0, rows <= x.rows else { throw CUDAError("download: \(rows) rows of [\(x.rows), \(x.columns)]") }
        let source = x.element == .float32 ? x : try converted(x, to: .float32)
        try device.bind()
        return try Tensor(uninitializedShape: [rows, x.columns]) { out in
            try cudaCall("reading a result back from the GPU") {
                lcr_cuda_download(out.baseAddress, source.address, rows * x.columns * 4, device.stream, $0, $1)
            }
        }
    }

    /// A host tensor on the GPU as `element` (converted on the host: weights, once).
    private func upload(_ x: Tensor, as element: CUDAElement) throws -> CUDAMatrix {
        try device.bind()
        let rows = x.shape.count == 2 ? x.shape[0] : 1, columns = x.shape.last ?? 0
        let matrix = try CUDAMatrix(rows: rows, columns: columns, element: element, pool: device.pool)
        switch element {
        case .float32, .int32:
            try x.toFloat32().withFloats { try send(UnsafeRawBufferPointer($0), to: matrix) }
        case .bfloat16:
            try x.toBFloat16().withBFloat16Bits { try send(UnsafeRawBufferPointer($0), to: matrix) }
        case .float16:
            let halves = x.scalars.map { Float16($0).bitPattern }
            try halves.withUnsafeBytes { try send($0, to: matrix) }
        }
        return matrix
    }

    /// Copies host bytes into `matrix` on the stream (the host memory may go once this returns).
    private func send(_ bytes: UnsafeRawBufferPointer, to matrix: CUDAMatrix) throws {
        try cudaCall("copying to the GPU") {
            lcr_cuda_upload(matrix.address, bytes.baseAddress, min(bytes.count, matrix.byteCount), device.stream, $0, $1)
        }
    }

    /// Row indices, lengths and the like, for a kernel to read.
    private func indices(_ values: [Int]) throws -> CUDAMatrix {
        try device.bind()
        let matrix = try CUDAMatrix(rows: 1, columns: max(values.count, 1), element: .int32, pool: device.pool)
        try values.map { Int32(truncatingIfNeeded: $0) }.withUnsafeBytes { try send($0, to: matrix) }
        return matrix
    }

    private func matrix(_ rows: Int, _ columns: Int, _ element: CUDAElement) throws -> CUDAMatrix {
        try CUDAMatrix(rows: rows, columns: columns, element: element, pool: device.pool)
    }

    /// `x` with `element` storage (a conversion kernel; the same matrix when it already has it).
    private func converted(_ x: CUDAMatrix, to element: CUDAElement) throws -> CUDAMatrix {
        if x.element == element { return x }
        let count = x.rows * x.columns
        let blocks = min((count + 255) / 256, 65535)
        if element == .float32 {
            let out = try matrix(x.rows, x.columns, .float32)
            try device.launch("to_float_\(x.element.suffix)", grid: (blocks, 1, 1), block: 256,
                              [.address(x.address), .int64(count), .address(out.address)])
            return out
        }
        let source = try converted(x, to: .float32)
        let out = try matrix(x.rows, x.columns, element)
        try device.launch("from_float_\(element.suffix)", grid: (blocks, 1, 1), block: 256,
                          [.address(source.address), .int64(count), .address(out.address)])
        return out
    }

    // MARK: Operations

    public func apply(_ product: Product, to x: consuming CUDAMatrix) throws -> CUDAMatrix {
        let n = product.weight.rows, k = product.weight.columns
        guard x.columns == k else { throw CUDAError("product [\(n), \(k)]: input [\(x.rows), \(x.columns)]") }
        try device.bind()
        let input = try converted(x, to: productElement)
        let out = try matrix(input.rows, n, product.output)
        let epilogue = product.activation == .relu ? LCR_EPILOGUE_RELU_BIAS : LCR_EPILOGUE_BIAS
        try cudaCall("cuBLASLt product [\(input.rows), \(k)] x [\(n), \(k)]ᵀ") {
            lcr_cublaslt_linear(device.blas, device.stream, input.address, product.weight.address,
                                product.bias?.address ?? 0, out.address, Int64(input.rows), Int64(n), Int64(k),
                                productElement.code, product.output.code, epilogue, $0, $1)
        }
        try device.kernelTimes.enqueued("cublaslt_linear_\(productElement.suffix)", on: device.stream)
        if product.activation == .gelu {
            // GELU in its erf form, as BERT defines it (cuBLASLt's GELU epilogue is the tanh one).
            let count = out.rows * out.columns
            try device.launch("gelu_\(out.element.suffix)", grid: (min((count + 255) / 256, 65535), 1, 1), block: 256,
                              [.address(out.address), .int64(count)])
        }
        return out
    }

    public func normalized(_ x: consuming CUDAMatrix, residual: CUDAMatrix?, by n: Normalization) throws -> CUDAMatrix {
        try normalize(x, residual: residual, by: n, copy: nil)
    }

    public func normalizedWithProductInput(_ x: consuming CUDAMatrix, residual: CUDAMatrix?,
                                           by n: Normalization) throws -> (normalized: CUDAMatrix, productInput: CUDAMatrix) {
        if productElement == .float32 {
            let normalized = try normalize(x, residual: residual, by: n, copy: nil)
            return (normalized, normalized)
        }
        let copy = try matrix(x.rows, x.columns, productElement)
        return (try normalize(x, residual: residual, by: n, copy: copy), copy)
    }

    private func normalize(_ x: CUDAMatrix, residual: CUDAMatrix?, by n: Normalization,
                           copy: CUDAMatrix?) throws -> CUDAMatrix {
        let width = x.columns
        guard n.gamma.columns == width, residual.map({ $0.rows == x.rows && $0.columns == width }) ?? true else {
            throw CUDAError("LayerNorm of width \(n.gamma.columns) on [\(x.rows), \(width)]")
        }
        try device.bind()
        let input = try converted(x, to: .float32)
        let res = try residual.map { try converted($0, to: .float32) }
        let out = try matrix(x.rows, width, .float32)
        try device.launch("layer_norm_\((copy?.element ?? productElement).suffix)", grid: (x.rows, 1, 1), block: 256,
                          sharedBytes: width * 4,
                          [.address(input.address), .address(res?.address ?? 0), .address(n.gamma.address),
                           .address(n.beta.address), .float(n.eps), .int32(Int32(width)), .address(out.address),
                           .address(copy?.address ?? 0)])
        return out
    }

    public func normalizedTokenEmbeddings(_ texts: [[Int32]], words: CUDAMatrix, tokenType: CUDAMatrix,
                                          positions: CUDAMatrix, by n: Normalization,
                                          paddedRows: Int) throws -> (normalized: CUDAMatrix, productInput: CUDAMatrix) {
        let width = words.columns
        let ids = texts.flatMap { $0.map(Int.init) }
        let positionOfRow = texts.flatMap { Array(0..<$0.count) }
        guard paddedRows >= ids.count else { throw CUDAError("embeddings: \(ids.count) tokens in \(paddedRows) rows") }
        try device.bind()
        let idMatrix = try indices(ids), positionMatrix = try indices(positionOfRow)
        let out = try matrix(paddedRows, width, .float32)
        let copy = productElement == .float32 ? nil : try matrix(paddedRows, width, productElement)
        try device.launch("embed_layer_norm_\(productElement.suffix)", grid: (paddedRows, 1, 1), block: 256,
                          sharedBytes: width * 4,
                          [.address(idMatrix.address), .address(positionMatrix.address), .int32(Int32(ids.count)),
                           .address(words.address), .address(tokenType.address), .address(positions.address),
                           .address(n.gamma.address), .address(n.beta.address), .float(n.eps), .int32(Int32(width)),
                           .address(out.address), .address(copy?.address ?? 0)])
        return (out, copy ?? out)
    }

    public func addingTags(_ x: CUDAMatrix, tags: CUDAMatrix, tagOfRow: [Int], paddedRows: Int) throws -> CUDAMatrix {
        guard x.columns == tags.columns, tagOfRow.count <= x.rows, paddedRows >= tagOfRow.count else {
            throw CUDAError("addingTags: x [\(x.rows), \(x.columns)], tags [\(tags.rows), \(tags.columns)]")
        }
        try device.bind()
        let input = try converted(x, to: .float32)
        let tagMatrix = try indices(tagOfRow)
        let out = try matrix(paddedRows, x.columns, .float32)
        try device.launch("add_tags", grid: (paddedRows, 1, 1), block: 256,
                          [.address(input.address), .address(tags.address), .address(tagMatrix.address),
                           .int32(Int32(tagOfRow.count)), .int32(Int32(x.columns)), .address(out.address)])
        return out
    }

    public func selfAttention(qkv: consuming CUDAMatrix, width: Int, heads: Int, segments: [Range<Int>],
                              firstRowSeesOnlyItself: Bool) throws -> CUDAMatrix {
        let headWidth = width / max(heads, 1)
        guard qkv.columns == 3 * width, heads > 0, width % heads == 0,
              headWidth <= CUDAKernelSource.maximumHeadWidth else {
            throw CUDAError("attention: qkv [\(qkv.rows), \(qkv.columns)] for width \(width) and \(heads) heads "
                            + "(heads of at most \(CUDAKernelSource.maximumHeadWidth))")
        }
        guard segments.allSatisfy({ $0.lowerBound >= 0 && $0.upperBound <= qkv.rows }) else {
            throw CUDAError("attention: segments outside 0..<\(qkv.rows)")
        }
        try device.bind()
        let input = try converted(qkv, to: productElement)
        let context = try matrix(qkv.rows, width, productElement)
        // Rows outside every segment (padding) come out as zeros.
        try cudaCall("clearing the attention output") {
            lcr_cuda_zero(context.address, context.byteCount, device.stream, $0, $1)
        }
        let used = segments.filter { !$0.isEmpty }
        guard let longest = used.map(\.count).max() else { return context }
        let starts = try indices(used.map(\.lowerBound)), lengths = try indices(used.map(\.count))
        let tile = CUDAKernelSource.attentionTile
        try device.launch("attention_\(productElement.suffix)", grid: ((longest + tile - 1) / tile, heads, used.count),
                          block: 128,
                          [.address(input.address), .address(starts.address), .address(lengths.address),
                           .int32(Int32(width)), .int32(Int32(headWidth)), .float(1 / Float(headWidth).squareRoot()),
                           .int32(firstRowSeesOnlyItself ? 1 : 0), .address(context.address)])
        return context
    }

    public func meanPooled(_ x: CUDAMatrix, segments: [Range<Int>]) throws -> CUDAMatrix {
        guard segments.allSatisfy({ !$0.isEmpty && $0.lowerBound >= 0 && $0.upperBound <= x.rows }) else {
            throw CUDAError("meanPooled: segments must be non-empty and inside [\(x.rows), \(x.columns)]")
        }
        try device.bind()
        let input = try converted(x, to: .float32)
        let out = try matrix(segments.count, x.columns, .float32)
        guard !segments.isEmpty else { return out }
        let starts = try indices(segments.map(\.lowerBound)), lengths = try indices(segments.map(\.count))
        try device.launch("mean_pool", grid: ((x.columns + 255) / 256, segments.count, 1), block: 256,
                          [.address(input.address), .address(starts.address), .address(lengths.address),
                           .int32(Int32(x.columns)), .address(out.address)])
        return out
    }

    public func pairedRows(_ x: CUDAMatrix, pairs: [(first: Int, second: Int)], paddedRows: Int) throws -> CUDAMatrix {
        guard paddedRows >= pairs.count,
              pairs.allSatisfy({ (0..<x.rows).contains($0.first) && (0..<x.rows).contains($0.second) }) else {
            throw CUDAError("pairedRows: \(pairs.count) pairs of rows of [\(x.rows), \(x.columns)] in \(paddedRows) rows")
        }
        try device.bind()
        let input = try converted(x, to: .float32)
        let first = try indices(pairs.map(\.first)), second = try indices(pairs.map(\.second))
        let out = try matrix(paddedRows, 2 * x.columns, .float32)
        try device.launch("paired_rows", grid: (paddedRows, 1, 1), block: 256,
                          [.address(input.address), .address(first.address), .address(second.address),
                           .int32(Int32(pairs.count)), .int32(Int32(x.columns)), .address(out.address)])
        return out
    }

    public func concatenatedColumns(_ a: CUDAMatrix, _ b: CUDAMatrix) throws -> CUDAMatrix {
        guard a.rows == b.rows else { throw CUDAError("concatenatedColumns: \(a.rows) and \(b.rows) rows") }
        try device.bind()
        let left = try converted(a, to: .float32), right = try converted(b, to: .float32)
        let out = try matrix(a.rows, a.columns + b.columns, .float32)
        try device.launch("concat_columns", grid: (a.rows, 1, 1), block: 256,
                          [.address(left.address), .address(right.address), .int32(Int32(a.columns)),
                           .int32(Int32(b.columns)), .address(out.address)])
        return out
    }
}
