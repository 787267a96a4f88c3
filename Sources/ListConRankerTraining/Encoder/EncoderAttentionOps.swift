import Foundation

/// BERT's multi-head self-attention, per text, forward and backward, on the fused projection
/// `qkv[tokens, 3H]` (per row q, then k, then v; head h owns columns `h·d ..< (h+1)·d` of each).
///
/// Texts are packed (``EncoderNetwork``): every text attends to all of its own tokens and to
/// nothing else, so no mask is needed (there is no padding). Per text and head,
/// `P = softmax(Q Kᵀ/√d)`, `P̃ = P ⊙ M` (the attention-probability dropout mask, `BertSelfAttention`'s
/// `self.dropout(attention_probs)`), `context = P̃ V`. The three products of each text and head
/// are `sgemm` calls reading Q, K, V in place through their row stride 3H. Probabilities are
/// stored per text and head as `[L, L]` blocks, text after text (``probabilityCount(segments:heads:)``).
enum EncoderAttentionOps {
    /// Elements of the probability store (and of its dropout mask) for texts `segments`: `Σ heads · L²`.
    static func probabilityCount(segments: [Range<Int>], heads: Int) -> Int {
        segments.reduce(0) { $0 + heads * $1.count * $1.count }
    }

    /// `context[tokens, H]` = the heads of `P̃ V` side by side. `probabilities` receives `P`; with
    /// `dropout` > 0, `dropoutMask` receives `M` (0 or 1/(1 − p) per element, drawn text by text,
    /// head by head, row-major, from `generator`).
    static func forward(context: UnsafeMutablePointer<Float>, probabilities: UnsafeMutablePointer<Float>,
                        dropoutMask: UnsafeMutablePointer<Float>?, qkv: UnsafePointer<Float>,
                        segments: [Range<Int>], hidden: Int, heads: Int, dropout: Float,
                        generator: inout SeededGenerator) throws {
        let d = hidden / heads, stride = 3 * hidden
        let scale = 1 / Float(d).squareRoot()
        let longest = segments.map(\.count).max() ?? 0
        let dropped = FloatBuffer(count: longest * longest)          // [L, L] P̃ of one text and head
        var block = 0
        for segment in segments {
            let length = segment.count, first = segment.lowerBound
            for h in 0..<heads {
                let p = probabilities + block
                let q = qkv + first * stride + h * d, k = q + hidden, v = q + 2 * hidden
                // S[L, L] = Q Kᵀ, then row-wise softmax of S/√d.
                try LinearOps.sgemm(transA: false, transB: true, m: length, n: length, k: d, a: q, lda: stride,
                                    b: k, ldb: stride, beta: 0, c: p, ldc: length)
                for i in 0..<length { softmaxRow(p + i * length, count: length, scale: scale) }
                var used = UnsafePointer(p)
                if let dropoutMask, dropout > 0 {
                    let m = dropoutMask + block
                    DropoutOps.drawMask(m, count: length * length, probability: dropout, generator: &generator)
                    for e in 0..<length * length { dropped.pointer[e] = p[e] * m[e] }
                    used = UnsafePointer(dropped.pointer)
                }
                // context[L, d] (row stride H) = P̃ V.
                try LinearOps.sgemm(transA: false, transB: false, m: length, n: d, k: length, a: used, lda: length,
                                    b: v, ldb: stride, beta: 0, c: context + first * hidden + h * d, ldc: hidden)
                block += length * length
            }
        }
    }

    /// Accumulates `dqkv[tokens, 3H]` from `dcontext[tokens, H]` through the stored `P` and `M`:
    /// `dV += P̃ᵀ dC`, `dP = (dC Vᵀ) ⊙ M`, `dS = P ⊙ (dP − rowsum(P ⊙ dP)) / √d`,
    /// `dQ += dS K`, `dK += dSᵀ Q`.
    static func backward(dqkv: UnsafeMutablePointer<Float>, dcontext: UnsafePointer<Float>,
                         probabilities: UnsafePointer<Float>, dropoutMask: UnsafePointer<Float>?,
                         qkv: UnsafePointer<Float>, segments: [Range<Int>], hidden: Int, heads: Int) throws {
        let d = hidden / heads, stride = 3 * hidden
        let scale = 1 / Float(d).squareRoot()
        let longest = segments.map(\.count).max() ?? 0
        let dropped = FloatBuffer(count: longest * longest)          // [L, L] P̃
        let dp = FloatBuffer(count: longest * longest)               // [L, L] dP, then dS
        var block = 0
        for segment in segments {
            let length = segment.count, first = segment.lowerBound
            for h in 0..<heads {
                let p = probabilities + block
                let q = qkv + first * stride + h * d, k = q + hidden, v = q + 2 * hidden
                let dq = dqkv + first * stride + h * d, dk = dq + hidden, dv = dq + 2 * hidden
                let dc = dcontext + first * hidden + h * d
                var used = p
                if let dropoutMask {
                    let m = dropoutMask + block
                    for e in 0..<length * length { dropped.pointer[e] = p[e] * m[e] }
                    used = UnsafePointer(dropped.pointer)
                }
                // dV[L, d] += P̃ᵀ dC
                try LinearOps.sgemm(transA: true, transB: false, m: length, n: d, k: length, a: used, lda: length,
                                    b: dc, ldb: hidden, beta: 1, c: dv, ldc: stride)
                // dP̃[L, L] = dC Vᵀ
                try LinearOps.sgemm(transA: false, transB: true, m: length, n: length, k: d, a: dc, lda: hidden,
                                    b: v, ldb: stride, beta: 0, c: dp.pointer, ldc: length)
                for i in 0..<length {
                    let row = dp.pointer + i * length, probability = p + i * length
                    if let dropoutMask {
                        let m = dropoutMask + block + i * length
                        for j in 0..<length { row[j] *= m[j] }
                    }
                    var weighted: Float = 0
                    for j in 0..<length { weighted += probability[j] * row[j] }
                    for j in 0..<length { row[j] = probability[j] * (row[j] - weighted) * scale }
                }
                // dQ[L, d] += dS K; dK[L, d] += dSᵀ Q
                try LinearOps.sgemm(transA: false, transB: false, m: length, n: d, k: length, a: dp.pointer,
                                    lda: length, b: k, ldb: stride, beta: 1, c: dq, ldc: stride)
                try LinearOps.sgemm(transA: true, transB: false, m: length, n: d, k: length, a: dp.pointer,
                                    lda: length, b: q, ldb: stride, beta: 1, c: dk, ldc: stride)
                block += length * length
            }
        }
    }

    /// `row ← softmax(row · scale)`, with the maximum subtracted first.
    @inline(__always)
    private static func softmaxRow(_ row: UnsafeMutablePointer<Float>, count: Int, scale: Float) {
        var maximum = -Float.infinity
        for j in 0..<count {
            row[j] *= scale
            maximum = max(maximum, row[j])
        }
        var sum: Float = 0
        for j in 0..<count {
            let e = exp(row[j] - maximum)
            row[j] = e
            sum += e
        }
        let inverse = 1 / sum
        for j in 0..<count { row[j] *= inverse }
    }
}
