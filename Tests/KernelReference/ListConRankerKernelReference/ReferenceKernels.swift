import CKernels
import CKernelsReference
import ListConRankerTensor

/// Plain reference forms of what the library's fused kernels compute — GELU, softmax, matrix
/// products, per-sequence attention and masked means — for the tests to check the fused paths
/// against. Only the tests link this (it is in no product).
public enum ReferenceKernels {
    /// GELU, erf form: `0.5·x·(1 + erf(x/√2))`.
    public static func gelu(_ x: Tensor) -> Tensor {
        var out = x.toFloat32()
        out.withMutableFloats { lcr_gelu($0.baseAddress, Int64($0.count)) }
        return out
    }

    /// Softmax over the last dimension. Row `r` normalises over columns
    /// `keyRanges[r]` only (the others become 0); nil means every column.
    public static func softmax(_ x: Tensor, keyRanges: [Range<Int>]? = nil) throws -> Tensor {
        guard let cols = x.shape.last, cols > 0 else { throw ComputeError("softmax: empty shape \(x.shape)") }
        let rows = x.count / cols
        var out = x.toFloat32()
        if let keyRanges {
            guard keyRanges.count == rows else {
                throw ComputeError("softmax: \(keyRanges.count) key ranges for \(rows) rows")
            }
            guard keyRanges.allSatisfy({ !$0.isEmpty && $0.lowerBound >= 0 && $0.upperBound <= cols }) else {
                throw ComputeError("softmax: every row needs a non-empty key range inside 0..<\(cols)")
            }
            let begins = keyRanges.map { Int64($0.lowerBound) }, ends = keyRanges.map { Int64($0.upperBound) }
            out.withMutableFloats { o in
                lcr_softmax_rows(o.baseAddress, Int64(rows), Int64(cols), begins, ends)
            }
        } else {
            out.withMutableFloats { o in lcr_softmax_rows(o.baseAddress, Int64(rows), Int64(cols), nil, nil) }
        }
        return out
    }

    /// Matrix product of `a [M,K]` and `b [K,N]` (or `bᵀ` when `transposeB`, b then `[N,K]`).
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeB: Bool = false) throws -> Tensor {
        guard a.shape.count == 2, b.shape.count == 2 else {
            throw ComputeError("matmul: needs 2-D tensors, got \(a.shape) and \(b.shape)")
        }
        let (m, k) = (a.shape[0], a.shape[1])
        let (kb, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        guard k == kb else { throw ComputeError("matmul: \(a.shape) × \(transposeB ? "ᵀ" : "")\(b.shape) do not fit") }
        var out = Tensor(zeros: [m, n])
        if m == 0 || n == 0 { return out }
        let a32 = a.toFloat32(), b32 = b.toFloat32()
        let status = out.withMutableFloats { c in
            a32.withFloats { ap in
                b32.withFloats { bp in
                    lcr_sgemm(CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: transposeB ? "T" : "N")),
                              Int64(m), Int64(n), Int64(k), 1, ap.baseAddress, Int64(k),
                              bp.baseAddress, Int64(transposeB ? k : n), 0, c.baseAddress, Int64(n))
                }
            }
        }
        guard status == 0 else { throw ComputeError("matmul: oneDNN sgemm failed for \(a.shape) × \(b.shape)") }
        return out
    }

    /// Batched matrix product: `a [B,M,K] · b [B,K,N] → [B,M,N]` (attention scores and mixing).
    public static func batchedMatmul(_ a: Tensor, _ b: Tensor, transposeB: Bool = false) throws -> Tensor {
        guard a.shape.count == 3, b.shape.count == 3, a.shape[0] == b.shape[0] else {
            throw ComputeError("batchedMatmul: needs [B,M,K] and [B,K,N], got \(a.shape) and \(b.shape)")
        }
        let batch = a.shape[0], m = a.shape[1], k = a.shape[2]
        let n = transposeB ? b.shape[1] : b.shape[2]
        let kb = transposeB ? b.shape[2] : b.shape[1]
        guard k == kb else { throw ComputeError("batchedMatmul: \(a.shape) × \(b.shape) do not fit") }
        var out = Tensor(zeros: [batch, m, n])
        let a32 = a.toFloat32(), b32 = b.toFloat32()
        var failed = false
        out.withMutableFloats { c in
            a32.withFloats { ap in
                b32.withFloats { bp in
                    for i in 0..<batch where m > 0 && n > 0 {
                        let s = lcr_sgemm(CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: transposeB ? "T" : "N")),
                                          Int64(m), Int64(n), Int64(k), 1, ap.baseAddress! + i * m * k, Int64(k),
                                          bp.baseAddress! + i * k * n, Int64(transposeB ? k : n), 0,
                                          c.baseAddress! + i * m * n, Int64(n))
                        if s != 0 { failed = true }
                    }
                }
            }
        }
        if failed { throw ComputeError("batchedMatmul: oneDNN sgemm failed for \(a.shape) × \(b.shape)") }
        return out
    }

    /// Multi-head attention over one sequence. `q`, `k`, `v` are `[t, heads·headDim]`;
    /// row `i` attends to keys `keyRanges[i]` (nil: all). Returns `[t, heads·headDim]`.
    public static func attention(q: Tensor, k: Tensor, v: Tensor, heads: Int,
                                 keyRanges: [Range<Int>]? = nil) throws -> Tensor {
        guard q.shape.count == 2, q.shape == k.shape, q.shape == v.shape, heads > 0, q.shape[1] % heads == 0 else {
            throw ComputeError("attention: q \(q.shape), k \(k.shape), v \(v.shape) with \(heads) heads")
        }
        let t = q.shape[0], width = q.shape[1]
        var out = Tensor(zeros: [t, width])
        if t == 0 { return out }
        let ranges = keyRanges ?? Array(repeating: 0..<t, count: t)
        guard ranges.count == t, ranges.allSatisfy({ !$0.isEmpty && $0.lowerBound >= 0 && $0.upperBound <= t }) else {
            throw ComputeError("attention: key ranges must be non-empty and inside 0..<\(t)")
        }
        let begins = ranges.map { Int64($0.lowerBound) }, ends = ranges.map { Int64($0.upperBound) }
        var scratch = [Float](repeating: 0, count: t * t)
        let q32 = q.toFloat32(), k32 = k.toFloat32(), v32 = v.toFloat32()
        let status = out.withMutableFloats { o in
            q32.withFloats { qp in k32.withFloats { kp in v32.withFloats { vp in
                scratch.withUnsafeMutableBufferPointer { s in
                    lcr_attention(qp.baseAddress, Int64(width), kp.baseAddress, Int64(width),
                                  vp.baseAddress, Int64(width), o.baseAddress, Int64(width),
                                  Int64(t), Int64(heads), Int64(width / heads), begins, ends, s.baseAddress)
                }
            } } }
        }
        guard status == 0 else { throw ComputeError("attention: oneDNN sgemm failed") }
        return out
    }

    /// Mean of the rows of a `[rows, cols]` tensor whose `mask` entry is true → `[cols]`.
    public static func maskedMean(_ x: Tensor, mask: [Bool]) throws -> Tensor {
        guard x.shape.count == 2, x.shape[0] == mask.count else {
            throw ComputeError("maskedMean: \(x.shape) with a mask of \(mask.count)")
        }
        guard mask.contains(true) else { throw ComputeError("maskedMean: the mask selects no row") }
        let cols = x.shape[1]
        var out = Tensor(zeros: [cols])
        let x32 = x.toFloat32()
        let bytes = mask.map { UInt8($0 ? 1 : 0) }
        out.withMutableFloats { o in
            x32.withFloats { xp in
                _ = lcr_masked_mean_rows(xp.baseAddress, bytes, Int64(mask.count), Int64(cols), o.baseAddress)
            }
        }
        return out
    }
}
