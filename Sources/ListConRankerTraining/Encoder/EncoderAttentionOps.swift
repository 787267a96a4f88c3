import CKernels
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
/// The (text, head) blocks are independent, so they are split over the cores (``ParallelLoop``;
/// each block's products then run on one thread). The dropout mask is drawn by the caller before
/// the forward (``EncoderNetwork/dropoutStream(site:layer:)``), so it does not depend on the split.
enum EncoderAttentionOps {
    /// One text and head: the text's rows and the offset of its `[L, L]` probability block.
    struct Block {
        let rows: Range<Int>
        let head: Int
        let offset: Int
    }

    /// The blocks of `segments`, text after text, head after head.
    static func blocks(segments: [Range<Int>], heads: Int) -> [Block] {
        var blocks: [Block] = []
        var offset = 0
        for segment in segments {
            for head in 0..<heads {
                blocks.append(Block(rows: segment, head: head, offset: offset))
                offset += segment.count * segment.count
            }
        }
        return blocks
    }

    /// Elements of the probability store (and of its dropout mask) for texts `segments`: `Σ heads · L²`,
    /// the list head's layout (one `[L, L]` block per segment and head), which the GPU's attention
    /// kernels share.
    static func probabilityCount(segments: [Range<Int>], heads: Int) -> Int {
        ListAttentionOps.probabilityCount(segments: segments, heads: heads)
    }

    /// `context[tokens, H]` = the heads of `P̃ V` side by side. `probabilities` receives `P`;
    /// `dropoutMask`, when given, is `M` (0 or 1/(1 − p) per element, the probabilities' layout,
    /// already drawn). A nil `context` stops after `P`: how recomputation restores it when the
    /// context was kept.
    static func forward(context: UnsafeMutablePointer<Float>?, probabilities: UnsafeMutablePointer<Float>,
                        dropoutMask: UnsafePointer<Float>?, qkv: UnsafePointer<Float>,
                        segments: [Range<Int>], hidden: Int, heads: Int) throws {
        let d = hidden / heads, stride = 3 * hidden
        let scale = 1 / Float(d).squareRoot()
        let blocks = Self.blocks(segments: segments, heads: heads)
        try eachBlock(blocks) { _, block in
            let length = block.rows.count, first = block.rows.lowerBound, h = block.head
            let p = probabilities + block.offset
            let q = qkv + first * stride + h * d, k = q + hidden, v = q + 2 * hidden
            // S[L, L] = Q Kᵀ, then row-wise softmax of S/√d.
            try LinearOps.sgemm(transA: false, transB: true, m: length, n: length, k: d, a: q, lda: stride,
                                b: k, ldb: stride, beta: 0, c: p, ldc: length)
            for i in 0..<length { lcr_softmax_scaled_row(p + i * length, Int64(length), scale) }
            guard let context else { return }
            let mask = dropoutMask.map { $0 + block.offset }
            var used = UnsafePointer(p)
            let dropped = FloatBuffer(count: mask != nil ? length * length : 0)   // [L, L] P̃
            if let mask {
                for e in 0..<length * length { dropped.pointer[e] = p[e] * mask[e] }
                used = UnsafePointer(dropped.pointer)
            }
            // context[L, d] (row stride H) = P̃ V.
            try LinearOps.sgemm(transA: false, transB: false, m: length, n: d, k: length, a: used, lda: length,
                                b: v, ldb: stride, beta: 0, c: context + first * hidden + h * d, ldc: hidden)
        }
    }

    /// Runs `body` on every block, the blocks split over the cores; rethrows the first error.
    private static func eachBlock(_ blocks: [Block], _ body: (Int, Block) throws -> Void) throws {
        let failure = FirstError()
        ParallelLoop.shares(blocks.count, minimumPerShare: 1) { share in
            for index in share where !failure.isSet {
                do { try body(index, blocks[index]) } catch { failure.record(error) }
            }
        }
        if let error = failure.error { throw error }
    }

    /// The first error thrown by any share.
    private final class FirstError: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: Error?
        var error: Error? { lock.withLock { stored } }
        var isSet: Bool { error != nil }
        func record(_ error: Error) { lock.withLock { if stored == nil { stored = error } } }
    }

    /// Accumulates `dqkv[tokens, 3H]` from `dcontext[tokens, H]` through the stored `P` and `M`:
    /// `dV += P̃ᵀ dC`, `dP = (dC Vᵀ) ⊙ M`, `dS = P ⊙ (dP − rowsum(P ⊙ dP)) / √d`,
    /// `dQ += dS K`, `dK += dSᵀ Q`.
    static func backward(dqkv: UnsafeMutablePointer<Float>, dcontext: UnsafePointer<Float>,
                         probabilities: UnsafePointer<Float>, dropoutMask: UnsafePointer<Float>?,
                         qkv: UnsafePointer<Float>, segments: [Range<Int>], hidden: Int, heads: Int) throws {
        let d = hidden / heads, stride = 3 * hidden
        let scale = 1 / Float(d).squareRoot()
        // Each block writes only its own head's columns of its own text's rows of dqkv.
        try eachBlock(Self.blocks(segments: segments, heads: heads)) { _, block in
            let length = block.rows.count, first = block.rows.lowerBound, h = block.head
            let p = probabilities + block.offset
            let q = qkv + first * stride + h * d, k = q + hidden, v = q + 2 * hidden
            let dq = dqkv + first * stride + h * d, dk = dq + hidden, dv = dq + 2 * hidden
            let dc = dcontext + first * hidden + h * d
            let dropped = FloatBuffer(count: dropoutMask != nil ? length * length : 0)   // [L, L] P̃
            let dp = FloatBuffer(count: length * length)                                 // [L, L] dP, then dS
            var used = p
            if let dropoutMask {
                let m = dropoutMask + block.offset
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
                    let m = dropoutMask + block.offset + i * length
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
        }
    }
}
