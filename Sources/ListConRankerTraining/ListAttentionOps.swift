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
        probabilityCount(lengths: segments.map(\.count), heads: heads)
    }

    /// Elements of the probability store (and of its dropout mask) for segments of `lengths` rows:
    /// `Σ heads · L²`.
    static func probabilityCount(lengths: [Int], heads: Int) -> Int { lengths.reduce(0) { $0 + heads * $1 * $1 } }

    /// Keys row `i` of a list (0 = the query) may attend to: the query row itself only, else all.
    @inline(__always)
    static func visibleKeys(row i: Int, length: Int) -> Int { i == 0 ? 1 : length }

    /// One list and one head: the unit of work the loops below split over the cores (blocks
    /// write disjoint probabilities and disjoint columns of `context` / `dqkv`).
    private struct Block {
        let rows: Range<Int>     // the list's rows
        let head: Int
        let offset: Int          // its [L, L] probabilities in the store
    }

    /// The blocks list after list, head after head: the probability store's order.
    private static func blocks(_ segments: [Range<Int>], heads: Int) -> [Block] {
        var blocks: [Block] = [], offset = 0
        blocks.reserveCapacity(segments.count * heads)
        for segment in segments {
            for h in 0..<heads {
                blocks.append(Block(rows: segment, head: h, offset: offset))
                offset += segment.count * segment.count
            }
        }
        return blocks
    }

    /// `context[rows, width]` = heads of `softmax(q kᵀ/√d + mask) · v` concatenated. `probabilities`
    /// receives the softmax output; with a dropout mask (same layout, drawn by the caller: in
    /// training, `nn.MultiheadAttention` drops attention weights) the probabilities used for the
    /// product are `probabilities ⊙ mask`.
    static func forward(context: UnsafeMutablePointer<Float>, probabilities: UnsafeMutablePointer<Float>,
                        dropoutMask mask: UnsafeMutablePointer<Float>?, qkv: UnsafePointer<Float>,
                        segments: [Range<Int>], width: Int, heads: Int) {
        let dh = width / heads, stride = 3 * width
        let scale = 1 / Float(dh).squareRoot()
        let blocks = blocks(segments, heads: heads)
        ParallelLoop.shares(blocks.count, minimumPerShare: 4) { share in
            for block in blocks[share] {
                let length = block.rows.count, first = block.rows.lowerBound, h = block.head
                let p = probabilities + block.offset
                for i in 0..<length {
                    let q = qkv + (first + i) * stride + h * dh
                    let visible = visibleKeys(row: i, length: length)
                    var maximum = -Float.infinity
                    for j in 0..<length {
                        guard j < visible else { p[i * length + j] = 0; continue }
                        let k = qkv + (first + j) * stride + width + h * dh
                        let logit = VectorLoops.dot(q, k, count: dh) * scale
                        p[i * length + j] = logit
                        maximum = max(maximum, logit)
                    }
                    var sum: Float = 0
                    for j in 0..<visible {
                        let e = exp(p[i * length + j] - maximum)
                        p[i * length + j] = e
                        sum += e
                    }
                    for j in 0..<visible { p[i * length + j] /= sum }
                }
                for i in 0..<length {
                    let out = context + (first + i) * width + h * dh
                    out.update(repeating: 0, count: dh)
                    for j in 0..<visibleKeys(row: i, length: length) {
                        var weight = p[i * length + j]
                        if let mask { weight *= mask[block.offset + i * length + j] }
                        let v = qkv + (first + j) * stride + 2 * width + h * dh
                        VectorLoops.addScaled(out, weight, v, count: dh)
                    }
                }
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
        let blocks = blocks(segments, heads: heads)
        ParallelLoop.shares(blocks.count, minimumPerShare: 4) { share in
            var dp = [Float](repeating: 0, count: longest)
            for block in blocks[share] {
                let length = block.rows.count, first = block.rows.lowerBound, h = block.head
                let p = probabilities + block.offset
                for i in 0..<length {
                    let visible = visibleKeys(row: i, length: length)
                    let dctx = dcontext + (first + i) * width + h * dh
                    let q = qkv + (first + i) * stride + h * dh
                    let dq = dqkv + (first + i) * stride + h * dh
                    var weighted: Float = 0
                    for j in 0..<visible {
                        let mask = dropoutMask.map { $0[block.offset + i * length + j] } ?? 1
                        let v = qkv + (first + j) * stride + 2 * width + h * dh
                        let dv = dqkv + (first + j) * stride + 2 * width + h * dh
                        VectorLoops.addScaled(dv, p[i * length + j] * mask, dctx, count: dh)
                        dp[j] = VectorLoops.dot(dctx, v, count: dh) * mask
                        weighted += p[i * length + j] * dp[j]
                    }
                    for j in 0..<visible {
                        let ds = p[i * length + j] * (dp[j] - weighted) * scale
                        let k = qkv + (first + j) * stride + width + h * dh
                        let dk = dqkv + (first + j) * stride + width + h * dh
                        VectorLoops.addScaled(dq, ds, k, count: dh)
                        VectorLoops.addScaled(dk, ds, q, count: dh)
                    }
                }
            }
        }
    }
}
