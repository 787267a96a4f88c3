import CKernels

/// The elementwise and reduction kernels a transformer needs, over Float32 tensors.
/// They run in C (`CKernels`), vectorised for the running CPU. (The plain reference forms the
/// tests check these against live in the tests' `ListConRankerKernelReference`.)
public enum Kernels {
    /// `max(x, 0)`.
    public static func relu(_ x: Tensor) -> Tensor {
        elementwise(x) { lcr_relu($0, $1) }
    }

    /// `1 / (1 + e^-x)`.
    public static func sigmoid(_ x: Tensor) -> Tensor {
        elementwise(x) { lcr_sigmoid($0, $1) }
    }

    /// LayerNorm over the last dimension of `x + residual` (residual optional), scaled by
    /// `gamma` and shifted by `beta`, both of the last dimension's size. `x` is consumed: a
    /// Float32 `x` that nothing else holds is normalised in place, without a copy.
    public static func layerNorm(_ x: consuming Tensor, residual: Tensor? = nil, gamma: Tensor, beta: Tensor,
                                 eps: Float) throws -> Tensor {
        try normalize(x, residual: residual, gamma: gamma, beta: beta, eps: eps, roundedCopy: false).normalized
    }

    /// ``layerNorm(_:residual:gamma:beta:eps:)``, also returning the result rounded to BFloat16
    /// (to nearest even, as ``Tensor/toBFloat16()``), written in the same pass, for a next bf16
    /// product to read without a conversion.
    public static func layerNormWithBFloat16Copy(_ x: consuming Tensor, residual: Tensor? = nil, gamma: Tensor,
                                                 beta: Tensor, eps: Float) throws -> (normalized: Tensor, bfloat16: Tensor) {
        let result = try normalize(x, residual: residual, gamma: gamma, beta: beta, eps: eps, roundedCopy: true)
        return (result.normalized, result.rounded!)
    }

    private static func normalize(_ x: consuming Tensor, residual: Tensor?, gamma: Tensor, beta: Tensor, eps: Float,
                                  roundedCopy: Bool) throws -> (normalized: Tensor, rounded: Tensor?) {
        guard let cols = x.shape.last, cols > 0 else { throw ComputeError("layerNorm: empty shape \(x.shape)") }
        guard gamma.count == cols, beta.count == cols else {
            throw ComputeError("layerNorm: gamma \(gamma.shape) / beta \(beta.shape) do not match last dimension \(cols)")
        }
        if let residual, residual.shape != x.shape {
            throw ComputeError("layerNorm: residual \(residual.shape) does not match \(x.shape)")
        }
        let shape = x.shape, rows = x.count / cols
        var out = (consume x).toFloat32()
        let g = gamma.toFloat32(), b = beta.toFloat32()
        let res = residual?.toFloat32()
        func run(_ copy: UnsafeMutablePointer<UInt16>?) {
            out.withMutableFloats { o in
                g.withFloats { gp in
                    b.withFloats { bp in
                        if let res {
                            res.withFloats { rp in
                                lcr_layer_norm(o.baseAddress, rp.baseAddress, gp.baseAddress, bp.baseAddress,
                                               Int64(rows), Int64(cols), eps, copy)
                            }
                        } else {
                            lcr_layer_norm(o.baseAddress, nil, gp.baseAddress, bp.baseAddress,
                                           Int64(rows), Int64(cols), eps, copy)
                        }
                    }
                }
            }
        }
        if roundedCopy {
            let rounded = Tensor(uninitializedBFloat16Shape: shape) { run($0.baseAddress) }
            return (out, rounded)
        }
        run(nil)
        return (out, nil)
    }

    /// The mean of each segment's rows of a `[rows, cols]` tensor: `[segments.count, cols]` (mean
    /// pooling of packed texts). Segments must be non-empty and inside the rows.
    public static func segmentMeans(_ x: Tensor, segments: [Range<Int>]) throws -> Tensor {
        guard x.shape.count == 2, segments.allSatisfy({ !$0.isEmpty && $0.lowerBound >= 0 && $0.upperBound <= x.shape[0] }) else {
            throw ComputeError("segmentMeans: segments must be non-empty and inside the \(x.shape) matrix")
        }
        let cols = x.shape[1]
        let x32 = x.toFloat32()
        let everyRow = [UInt8](repeating: 1, count: segments.map(\.count).max() ?? 0)
        return Tensor(uninitializedShape: [segments.count, cols]) { out in
            x32.withFloats { source in
                for (i, segment) in segments.enumerated() {
                    _ = lcr_masked_mean_rows(source.baseAddress! + segment.lowerBound * cols, everyRow,
                                             Int64(segment.count), Int64(cols), out.baseAddress! + i * cols)
                }
            }
        }
    }

    /// Self-attention over packed sequences. `qkv` is `[N, 3·width]`: each row's query, key
    /// and value side by side (a fused QKV projection). `segments` split the N rows into
    /// sequences; a row attends only within its own segment, and rows outside every segment
    /// come out as zeros. With `firstRowSeesOnlyItself`, each segment's first row attends to
    /// itself alone (ListAttention's query row). Returns `[N, width]`, with BFloat16 storage
    /// when `qkv` has it (the products then run in bf16; scores and softmax stay Float32).
    public static func packedSelfAttention(qkv: Tensor, width: Int, heads: Int, segments: [Range<Int>],
                                           firstRowSeesOnlyItself: Bool = false) throws -> Tensor {
        guard qkv.shape.count == 2, qkv.shape[1] == 3 * width, heads > 0, width % heads == 0 else {
            throw ComputeError("packedSelfAttention: qkv \(qkv.shape) for width \(width) and \(heads) heads")
        }
        let rows = qkv.shape[0]
        guard segments.allSatisfy({ $0.lowerBound >= 0 && $0.upperBound <= rows }) else {
            throw ComputeError("packedSelfAttention: segments outside 0..<\(rows)")
        }
        var error = [CChar](repeating: 0, count: 256)
        var status: Int32 = 0
        func attend<Element>(_ source: UnsafeBufferPointer<Element>, _ target: UnsafeMutableBufferPointer<Element>,
                             bf16: Bool, zero: Element) {
            var covered = [Bool](repeating: false, count: rows)
            for group in attentionGroups(segments: segments, heads: heads) where status == 0 {
                let starts = group.map { Int64($0.lowerBound) }, lengths = group.map { Int64($0.count) }
                let padded = Int64(paddedAttentionLength(group[0].count))
                status = lcr_attention_group(source.baseAddress!, bf16 ? 1 : 0, Int64(width), Int64(heads), starts,
                                             lengths, Int64(group.count), padded, target.baseAddress!, Int64(width),
                                             &error, 256)
            }
            for segment in segments where !segment.isEmpty {
                if firstRowSeesOnlyItself {
                    // Softmax over the one key it may see is 1: the row's context is its own value.
                    (target.baseAddress! + segment.lowerBound * width)
                        .update(from: source.baseAddress! + segment.lowerBound * 3 * width + 2 * width, count: width)
                }
                for r in segment { covered[r] = true }
            }
            for r in 0..<rows where !covered[r] { (target.baseAddress! + r * width).update(repeating: zero, count: width) }
        }
        let out: Tensor
        if qkv.dtype == .bfloat16 {
            out = Tensor(uninitializedBFloat16Shape: [rows, width]) { o in
                qkv.withBFloat16Bits { attend($0, o, bf16: true, zero: 0) }
            }
        } else {
            out = Tensor(uninitializedShape: [rows, width]) { o in
                qkv.withFloats { attend($0, o, bf16: false, zero: 0) }
            }
        }
        guard status == 0 else { throw ComputeError("packedSelfAttention", cMessage: error) }
        return out
    }

    /// The most attention scores one batched call holds (texts × heads × padded length²): 1 Mi,
    /// that is 4 MiB of f32 scores, so grouping adds little to the encoder's peak memory (larger
    /// groups measured no faster: 16 heads of two 160-token texts already keep both cores busy).
    static let maximumGroupScores = 1 << 20

    /// The length a sequence is padded to for batched attention: the next multiple of 32 (a
    /// multiple of the bf16 products' 32-element steps).
    static func paddedAttentionLength(_ length: Int) -> Int { (length + 31) / 32 * 32 }

    /// Splits sequences into groups for batched attention: sequences of the same padded length
    /// (``paddedAttentionLength(_:)``) share a group, within ``maximumGroupScores``. Because
    /// the padding depends on a sequence's own length only, each of its heads meets the same
    /// product shapes whichever group it lands in, and its context comes out bit for bit the
    /// same (tested).
    /// Empty segments are left out.
    static func attentionGroups(segments: [Range<Int>], heads: Int) -> [[Range<Int>]] {
        var groups = [[Range<Int>]]()
        var current = 0
        let byLength = segments.filter { !$0.isEmpty }.sorted {
            paddedAttentionLength($0.count) > paddedAttentionLength($1.count)
        }
        for segment in byLength {
            let padded = paddedAttentionLength(segment.count)
            if let group = groups.last, padded == current, (group.count + 1) * heads * padded * padded <= maximumGroupScores {
                groups[groups.count - 1].append(segment)
            } else {
                groups.append([segment])
                current = padded
            }
        }
        return groups
    }

    private static func elementwise(_ x: Tensor, _ body: (UnsafeMutablePointer<Float>?, Int64) -> Void) -> Tensor {
        var out = x.toFloat32()
        out.withMutableFloats { body($0.baseAddress, Int64($0.count)) }
        return out
    }
}
