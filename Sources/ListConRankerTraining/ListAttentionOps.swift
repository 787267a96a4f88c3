import Foundation

/// Multi-head self-attention under ListConRanker's ListAttention mask, forward and backward,
/// on the fused projection `qkv[rows, 3·width]` (per row: q, then k, then v; head h owns
/// columns `h·headWidth ..< (h+1)·headWidth` of each).
///
/// The mask, per list (its first row the query): the query row attends to itself only; every
/// passage row attends to the query and to every passage of its list; lists never see each
/// other. Attention probabilities are stored per list and head as `[L, L]` blocks, list after
/// list (``probabilityCount(segments:heads:)`` elements); the backward reads them back.
enum ListAttentionOps {
    /// Elements of the probability store for lists `segments`: `Σ heads · L²`.
    static func probabilityCount(segments: [Range<Int>], heads: Int) -> Int {
        segments.reduce(0) { $0 + heads * $1.count * $1.count }
    }

    /// Keys row `i` of a list (0 = the query) may attend to: the query row itself only, else all.
    @inline(__always)
    static func visibleKeys(row i: Int, length: Int) -> Int { i == 0 ? 1 : length }

    /// `context[rows, width]` = heads of `softmax(q kᵀ/√d + mask) · v` concatenated. `probabilities`
    /// receives the softmax output; with `dropout` > 0 the probabilities used for the product are
    /// `probabilities ⊙ mask` (as `nn.MultiheadAttention` drops attention weights in training),
    /// the mask going to `dropoutMask` (same layout).
    static func forward(context: UnsafeMutablePointer<Float>, probabilities: UnsafeMutablePointer<Float>,
                        dropoutMask: UnsafeMutablePointer<Float>?, qkv: UnsafePointer<Float>,
                        segments: [Range<Int>], width: Int, heads: Int, dropout: Float,
                        generator: inout SeededGenerator) {
        let dh = width / heads, stride = 3 * width
        let scale = 1 / Float(dh).squareRoot()
        var block = 0
        for segment in segments {
            let length = segment.count, first = segment.lowerBound
            for h in 0..<heads {
                let p = probabilities + block
                for i in 0..<length {
                    let q = qkv + (first + i) * stride + h * dh
                    let visible = visibleKeys(row: i, length: length)
                    var maximum = -Float.infinity
                    for j in 0..<length {
                        guard j < visible else { p[i * length + j] = 0; continue }
                        let k = qkv + (first + j) * stride + width + h * dh
                        var dot: Float = 0
                        for c in 0..<dh { dot += q[c] * k[c] }
                        p[i * length + j] = dot * scale
                        maximum = max(maximum, dot * scale)
                    }
                    var sum: Float = 0
                    for j in 0..<visible {
                        let e = exp(p[i * length + j] - maximum)
                        p[i * length + j] = e
                        sum += e
                    }
                    for j in 0..<visible { p[i * length + j] /= sum }
                }
                if let dropoutMask, dropout > 0 {
                    let m = dropoutMask + block
                    let keep = 1 / (1 - dropout)
                    for e in 0..<length * length { m[e] = generator.unit() >= Double(dropout) ? keep : 0 }
                }
                for i in 0..<length {
                    let out = context + (first + i) * width + h * dh
                    for c in 0..<dh { out[c] = 0 }
                    for j in 0..<visibleKeys(row: i, length: length) {
                        var weight = p[i * length + j]
                        if let dropoutMask, dropout > 0 { weight *= dropoutMask[block + i * length + j] }
                        let v = qkv + (first + j) * stride + 2 * width + h * dh
                        for c in 0..<dh { out[c] += weight * v[c] }
                    }
                }
                block += length * length
            }
        }
    }

    /// Accumulates `dqkv[rows, 3·width]` from `dcontext[rows, width]`, through the stored
    /// probabilities (and dropout mask): `dv_j += P̃_ij dctx_i`, `dP = (dctx_i · v_j) ⊙ mask`,
    /// `dS = P ⊙ (dP − Σ_j P dP)`, `dq_i += dS_ij k_j/√d`, `dk_j += dS_ij q_i/√d`.
    static func backward(dqkv: UnsafeMutablePointer<Float>, dcontext: UnsafePointer<Float>,
                         probabilities: UnsafePointer<Float>, dropoutMask: UnsafePointer<Float>?,
                         qkv: UnsafePointer<Float>, segments: [Range<Int>], width: Int, heads: Int) {
        let dh = width / heads, stride = 3 * width
        let scale = 1 / Float(dh).squareRoot()
        let longest = segments.map(\.count).max() ?? 0
        var dp = [Float](repeating: 0, count: longest)
        var block = 0
        for segment in segments {
            let length = segment.count, first = segment.lowerBound
            for h in 0..<heads {
                let p = probabilities + block
                for i in 0..<length {
                    let visible = visibleKeys(row: i, length: length)
                    let dctx = dcontext + (first + i) * width + h * dh
                    let q = qkv + (first + i) * stride + h * dh
                    let dq = dqkv + (first + i) * stride + h * dh
                    var weighted: Float = 0
                    for j in 0..<visible {
                        let mask = dropoutMask.map { $0[block + i * length + j] } ?? 1
                        let v = qkv + (first + j) * stride + 2 * width + h * dh
                        let dv = dqkv + (first + j) * stride + 2 * width + h * dh
                        let used = p[i * length + j] * mask
                        var dot: Float = 0
                        for c in 0..<dh {
                            dot += dctx[c] * v[c]
                            dv[c] += used * dctx[c]
                        }
                        dp[j] = dot * mask
                        weighted += p[i * length + j] * dp[j]
                    }
                    for j in 0..<visible {
                        let ds = p[i * length + j] * (dp[j] - weighted) * scale
                        let k = qkv + (first + j) * stride + width + h * dh
                        let dk = dqkv + (first + j) * stride + width + h * dh
                        for c in 0..<dh {
                            dq[c] += ds * k[c]
                            dk[c] += ds * q[c]
                        }
                    }
                }
                block += length * length
            }
        }
    }
}
