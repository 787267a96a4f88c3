import CKernels

/// The CPU backend: products on oneDNN (``Linear``), everything else in the C kernels. Matrices
/// are host ``Tensor``s; in bf16, a matrix that only a product reads keeps BFloat16 storage.
public struct CPUBackend: ComputeBackend {
    public typealias Matrix = Tensor
    public typealias Table = Tensor

    /// A prepared product: the oneDNN layer, and a ReLU after it when asked for (oneDNN's layer
    /// fuses GELU only; ReLU runs on the output in place).
    public struct Product: Sendable {
        let linear: Linear
        let relu: Bool
    }

    /// A LayerNorm's parameters (Float32).
    public struct Normalization: Sendable {
        let gamma: Tensor
        let beta: Tensor
        let eps: Float
    }

    public let precision: Precision

    /// A backend whose products run in `precision`.
    public init(precision: Precision = .fp32) {
        self.precision = precision
    }

    public func product(weight: Tensor, bias: Tensor?, activation: ProductActivation, feedsProduct: Bool) throws -> Product {
        Product(linear: try Linear(weight: weight, bias: bias, precision: precision, fuseGELU: activation == .gelu,
                                   bf16Output: feedsProduct && precision == .bf16),
                relu: activation == .relu)
    }

    public func normalization(gamma: Tensor, beta: Tensor, eps: Float) throws -> Normalization {
        Normalization(gamma: gamma.toFloat32(), beta: beta.toFloat32(), eps: eps)
    }

    public func table(_ rows: Tensor) throws -> Tensor {
        guard rows.shape.count == 2 else { throw ComputeError("table: rows must be 2-D, got \(rows.shape)") }
        return rows.toFloat32()
    }

    public func upload(_ x: Tensor) throws -> Tensor {
        guard x.shape.count == 2 else { throw ComputeError("upload: a matrix must be 2-D, got \(x.shape)") }
        return x
    }

    public func download(_ x: Tensor, rows: Int) throws -> Tensor {
        guard x.shape.count == 2, rows >= 0, rows <= x.shape[0] else {
            throw ComputeError("download: \(rows) rows of \(x.shape)")
        }
        if rows == x.shape[0] { return x.toFloat32() }
        let cols = x.shape[1]
        let x32 = x.toFloat32()
        return Tensor(uninitializedShape: [rows, cols]) { out in
            x32.withFloats { source in out.baseAddress!.update(from: source.baseAddress!, count: rows * cols) }
        }
    }

    public func apply(_ product: Product, to x: consuming Tensor) throws -> Tensor {
        let y = try product.linear(x)
        return product.relu ? Kernels.relu(y) : y
    }

    public func normalized(_ x: consuming Tensor, residual: Tensor?, by n: Normalization) throws -> Tensor {
        try Kernels.layerNorm(consume x, residual: residual, gamma: n.gamma, beta: n.beta, eps: n.eps)
    }

    public func normalizedWithProductInput(_ x: consuming Tensor, residual: Tensor?,
                                           by n: Normalization) throws -> (normalized: Tensor, productInput: Tensor) {
        guard precision == .bf16 else {
            let normalized = try Kernels.layerNorm(consume x, residual: residual, gamma: n.gamma, beta: n.beta, eps: n.eps)
            return (normalized, normalized)
        }
        // bf16: the rounded copy is written in the same pass, so no product converts its input.
        let pair = try Kernels.layerNormWithBFloat16Copy(consume x, residual: residual, gamma: n.gamma, beta: n.beta, eps: n.eps)
        return (pair.normalized, pair.bfloat16)
    }

    public func normalizedTokenEmbeddings(_ texts: [[Int32]], words: Tensor, tokenType: Tensor, positions: Tensor,
                                          by normalization: Normalization,
                                          paddedRows: Int) throws -> (normalized: Tensor, productInput: Tensor) {
        let h = words.shape[1]
        guard tokenType.count == h, positions.shape.count == 2, positions.shape[1] == h else {
            throw ComputeError("tokenEmbeddings: words \(words.shape), token type \(tokenType.shape), positions \(positions.shape)")
        }
        let tokens = texts.reduce(0) { $0 + $1.count }
        guard paddedRows >= tokens else { throw ComputeError("tokenEmbeddings: \(tokens) tokens in \(paddedRows) rows") }
        var out = Tensor(zeros: [paddedRows, h])   // rows past the tokens stay zero
        var row = 0
        out.withMutableFloats { o in
            words.withFloats { words in
                tokenType.withFloats { type in
                    positions.withFloats { positions in
                        for ids in texts {
                            for (position, id) in ids.enumerated() {
                                let dst = row * h, w = Int(id) * h, p = position * h
                                for j in 0..<h { o[dst + j] = (words[w + j] + type[j]) + positions[p + j] }
                                row += 1
                            }
                        }
                    }
                }
            }
        }
        return try normalizedWithProductInput(consume out, residual: nil, by: normalization)
    }

    public func addingTags(_ x: Tensor, tags: Tensor, tagOfRow: [Int], paddedRows: Int) throws -> Tensor {
        guard x.shape.count == 2, tags.shape.count == 2, x.shape[1] == tags.shape[1],
              tagOfRow.count <= x.shape[0], paddedRows >= tagOfRow.count,
              tagOfRow.allSatisfy({ $0 >= 0 && $0 < tags.shape[0] }) else {
            throw ComputeError("addingTags: x \(x.shape), tags \(tags.shape), \(tagOfRow.count) rows in \(paddedRows)")
        }
        let d = x.shape[1]
        var out = Tensor(zeros: [paddedRows, d])
        x.toFloat32().withFloats { source in
            tags.withFloats { tag in
                out.withMutableFloats { o in
                    for (row, t) in tagOfRow.enumerated() {
                        for j in 0..<d { o[row * d + j] = source[row * d + j] + tag[t * d + j] }
                    }
                }
            }
        }
        return out
    }

    public func selfAttention(qkv: consuming Tensor, width: Int, heads: Int, segments: [Range<Int>],
                              firstRowSeesOnlyItself: Bool) throws -> Tensor {
        try Kernels.packedSelfAttention(qkv: qkv, width: width, heads: heads, segments: segments,
                                        firstRowSeesOnlyItself: firstRowSeesOnlyItself)
    }

    public func meanPooled(_ x: Tensor, segments: [Range<Int>]) throws -> Tensor {
        try Kernels.segmentMeans(x, segments: segments)
    }

    public func pairedRows(_ x: Tensor, pairs: [(first: Int, second: Int)], paddedRows: Int) throws -> Tensor {
        guard x.shape.count == 2, paddedRows >= pairs.count,
              pairs.allSatisfy({ (0..<x.shape[0]).contains($0.first) && (0..<x.shape[0]).contains($0.second) }) else {
            throw ComputeError("pairedRows: \(pairs.count) pairs of rows of \(x.shape) in \(paddedRows) rows")
        }
        let d = x.shape[1]
        var out = Tensor(zeros: [paddedRows, 2 * d])
        x.toFloat32().withFloats { rows in
            out.withMutableFloats { o in
                for (i, pair) in pairs.enumerated() {
                    for j in 0..<d {
                        o[i * 2 * d + j] = rows[pair.first * d + j]
                        o[i * 2 * d + d + j] = rows[pair.second * d + j]
                    }
                }
            }
        }
        return out
    }

    public func concatenatedColumns(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard a.shape.count == 2, b.shape.count == 2, a.shape[0] == b.shape[0] else {
            throw ComputeError("concatenatedColumns: \(a.shape) and \(b.shape)")
        }
        let rows = a.shape[0], wa = a.shape[1], wb = b.shape[1]
        var out = Tensor(zeros: [rows, wa + wb])
        a.toFloat32().withFloats { pa in
            b.toFloat32().withFloats { pb in
                out.withMutableFloats { o in
                    for r in 0..<rows {
                        for j in 0..<wa { o[r * (wa + wb) + j] = pa[r * wa + j] }
                        for j in 0..<wb { o[r * (wa + wb) + wa + j] = pb[r * wb + j] }
                    }
                }
            }
        }
        return out
    }
}
