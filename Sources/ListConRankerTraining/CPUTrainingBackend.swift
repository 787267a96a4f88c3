/// The CPU's ``TrainingBackend``: the ops of this module on oneDNN and the C kernels, the
/// reference every other backend is checked against (and itself checked against PyTorch autograd).
struct CPUTrainingBackend: TrainingBackend {
    typealias Pointer = UnsafeMutablePointer<Float>

    /// The CPU backend.
    init() {}

    func zeros(_ count: Int) -> FloatBuffer { FloatBuffer(count: count) }
    /// Zeros from `calloc`: fresh pages cost no clearing pass here.
    func scratch(_ count: Int) -> FloatBuffer { FloatBuffer(count: count) }
    /// The CPU's products read Float32: a Float32 buffer.
    func productOperand(_ count: Int) -> FloatBuffer { scratch(count) }
    /// The CPU's products read Float32: plain zeros.
    func parameters(_ count: Int) -> FloatBuffer { zeros(count) }
    /// Float32 values, 0 or 1/(1 − p).
    func dropoutMask(_ count: Int, probability p: Float) -> FloatBuffer { scratch(count) }
    func upload(_ values: [Float]) -> FloatBuffer { FloatBuffer(values) }
    func upload(_ values: [Float], to target: Pointer) {
        values.withUnsafeBufferPointer { if let base = $0.baseAddress { target.update(from: base, count: $0.count) } }
    }
    func download(_ pointer: Pointer, count: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: pointer, count: count))
    }
    func copy(_ source: Pointer, to target: Pointer, count: Int) {
        target.update(from: source, count: count)
    }
    func dropout(seed: UInt64) -> CPUDropout { CPUDropout(seed: seed) }
    func availableBytes() -> Int? { nil }
    /// Everything Float32; attention's backward works one text and head at a time.
    var activationStorage: ActivationStorage { .cpu }

    func linearForward(y: Pointer, x: Pointer, w: Pointer, b: Pointer?, rows: Int, inFeatures: Int,
                              outFeatures: Int) throws {
        try LinearOps.forward(y: y, x: x, w: w, b: b, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
    }

    /// `.replace` clears dx first: the CPU's ops add, and their results stay what they were.
    func linearBackward(dx: Pointer?, dxWrite: GradientWrite, dw: Pointer?, db: Pointer?, dy: Pointer, x: Pointer,
                        w: Pointer, rows: Int, inFeatures: Int, outFeatures: Int) throws {
        if dxWrite == .replace, let dx { clear(dx, count: rows * inFeatures) }
        try LinearOps.backward(dx: dx, dw: dw, db: db, dy: dy, x: x, w: w, rows: rows, inFeatures: inFeatures,
                               outFeatures: outFeatures)
    }

    func layerNormForward(y: Pointer, mean: Pointer, rstd: Pointer, x: Pointer, gamma: Pointer,
                                 beta: Pointer, rows: Int, width: Int, eps: Float) {
        LayerNormOps.forward(y: y, mean: mean, rstd: rstd, x: x, gamma: gamma, beta: beta, rows: rows, width: width,
                             eps: eps)
    }

    /// The join in one pass (``ElementOps/multiplyAdd(_:by:adding:count:)``), then the LayerNorm.
    func layerNormForward(y: Pointer, mean: Pointer, rstd: Pointer, joining x: Pointer, maskedBy mask: Pointer?,
                          to residual: Pointer, gamma: Pointer, beta: Pointer, rows: Int, width: Int, eps: Float) {
        if let mask {
            ElementOps.multiplyAdd(x, by: mask, adding: residual, count: rows * width)
        } else {
            ElementOps.add(x, residual, count: rows * width)
        }
        layerNormForward(y: y, mean: mean, rstd: rstd, x: x, gamma: gamma, beta: beta, rows: rows, width: width, eps: eps)
    }

    /// `.replace` clears dx first, as ``linearBackward(dx:dxWrite:dw:db:dy:x:w:rows:inFeatures:outFeatures:)``.
    func layerNormBackward(dx: Pointer, dxWrite: GradientWrite, dgamma: Pointer, dbeta: Pointer, dy: Pointer,
                           x: Pointer, mean: Pointer, rstd: Pointer, gamma: Pointer, rows: Int, width: Int) {
        if dxWrite == .replace { clear(dx, count: rows * width) }
        LayerNormOps.backward(dx: dx, dgamma: dgamma, dbeta: dbeta, dy: dy, x: x, mean: mean, rstd: rstd,
                              gamma: gamma, rows: rows, width: width)
    }

    /// The two operations in turn.
    func layerNormBackward(dx: Pointer, maskedBy mask: Pointer, into branch: Pointer, dgamma: Pointer, dbeta: Pointer,
                           dy: Pointer, x: Pointer, mean: Pointer, rstd: Pointer, gamma: Pointer, rows: Int,
                           width: Int) {
        layerNormBackward(dx: dx, dxWrite: .replace, dgamma: dgamma, dbeta: dbeta, dy: dy, x: x, mean: mean,
                          rstd: rstd, gamma: gamma, rows: rows, width: width)
        multiply(dx, by: mask, into: branch, count: rows * width)
    }

    func geluForward(y: Pointer, x: Pointer, count: Int) throws {
        try ActivationOps.geluForward(y: y, x: x, count: count)
    }

    func geluBackward(dx: Pointer, dy: Pointer, x: Pointer, count: Int) throws {
        try ActivationOps.geluBackward(dx: dx, dy: dy, x: x, count: count)
    }

    func geluForwardBackward(y: Pointer, dx: Pointer, dy: Pointer, x: Pointer, rows: Int, width: Int,
                             biasGradient: Pointer) throws {
        try ActivationOps.geluForward(y: y, x: x, count: rows * width)
        try ActivationOps.geluBackward(dx: dx, dy: dy, x: x, count: rows * width)
        LinearOps.biasBackward(db: biasGradient, dy: dx, rows: rows, outFeatures: width)
    }

    func reluForward(y: Pointer, yStride: Int, x: Pointer, xStride: Int, rows: Int, width: Int) {
        ParallelLoop.shares(rows, minimumPerShare: 16) { share in
            for r in share { ActivationOps.reluForward(y: y + r * yStride, x: x + r * xStride, count: width) }
        }
    }

    func reluBackward(dx: Pointer, dxStride: Int, dy: Pointer, dyStride: Int, x: Pointer, xStride: Int,
                             rows: Int, width: Int) {
        ParallelLoop.shares(rows, minimumPerShare: 16) { share in
            for r in share {
                ActivationOps.reluBackward(dx: dx + r * dxStride, dy: dy + r * dyStride, x: x + r * xStride, count: width)
            }
        }
    }

    func multiply(_ x: Pointer, by y: Pointer, count: Int) { ElementOps.multiply(x, by: y, count: count) }
    func withProductCopy(_ count: Int) -> FloatBuffer { scratch(count) }

    /// ``CircleLoss/evaluate(logits:relevant:listLengths:listCount:)`` itself.
    func circleLoss(_ loss: CircleLoss, dlogits: Pointer, losses: Pointer, logits: Pointer, relevant: Pointer,
                    segments: [Range<Int>], divisor: Int) throws {
        let lengths = try CircleLoss.listLengths(ofRows: segments, divisor: divisor)
        let count = ScorePairs.passageCount(segments)
        let result = try loss.evaluate(logits: Array(UnsafeBufferPointer(start: logits, count: count)),
                                       relevant: (0..<count).map { relevant[$0] != 0 }, listLengths: lengths,
                                       listCount: divisor)
        for (k, value) in result.listLosses.enumerated() { losses[k] = value }
        for (i, value) in result.logitGradients.enumerated() { dlogits[i] = value }
    }
    /// The CPU's product operands are Float32: the copy holds the values.
    func productCopyValues(for copy: FloatBuffer) -> FloatBuffer? { nil }
    func activation(_ values: FloatBuffer?, copy: FloatBuffer) throws -> Pointer {
        guard values == nil else { throw TrainingError.invalidInput("Float32 values beside a Float32 product copy") }
        return copy.pointer
    }
    func multiply(_ x: Pointer, by y: Pointer, into z: Pointer, count: Int) {
        ElementOps.product(z, x, y, count: count)
    }

    func addQueryTags(out: Pointer, f: Pointer, tags: Pointer, segments: [Range<Int>], width w: Int) {
        let rows = segments.last?.upperBound ?? 0
        let queryRows = Set(segments.map(\.lowerBound))
        ParallelLoop.shares(rows, minimumPerShare: 16) { share in
            for row in share {
                let tag = tags + (queryRows.contains(row) ? w : 0)
                let source = f + row * w, target = out + row * w
                for j in 0..<w { target[j] = source[j] + tag[j] }
            }
        }
    }

    func queryTagsBackward(df: Pointer, dtags: Pointer, dout: Pointer, segments: [Range<Int>], width w: Int) {
        // Split by column: each tag's gradient sums its rows in order.
        ParallelLoop.shares(w, minimumPerShare: 64) { columns in
            for segment in segments {
                for row in segment {
                    let dtag = dtags + (row == segment.lowerBound ? w : 0)
                    let source = dout + row * w, target = df + row * w
                    for j in columns {
                        target[j] += source[j]
                        dtag[j] += source[j]
                    }
                }
            }
        }
    }

    func listAttentionForward(context: Pointer, probabilities: Pointer, mask: Pointer?, qkv: Pointer,
                                     segments: [Range<Int>], width: Int, heads: Int) {
        ListAttentionOps.forward(context: context, probabilities: probabilities, dropoutMask: mask, qkv: qkv,
                                 segments: segments, width: width, heads: heads)
    }

    func listAttentionBackward(dqkv: Pointer, dqkvWrite: GradientWrite, dcontext: Pointer, probabilities: Pointer,
                               mask: Pointer?, qkv: Pointer, segments: [Range<Int>], width: Int, heads: Int) {
        if dqkvWrite == .replace { clear(dqkv, count: (segments.last?.upperBound ?? 0) * 3 * width) }
        ListAttentionOps.backward(dqkv: dqkv, dcontext: dcontext, probabilities: probabilities, dropoutMask: mask,
                                  qkv: qkv, segments: segments, width: width, heads: heads)
    }

    func splitQueryRows(rows: Pointer, queries: Pointer, passages: Pointer, segments: [Range<Int>],
                               width: Int) {
        ScorePairs.split(rows: rows, queries: queries, passages: passages, segments: segments, width: width)
    }

    func mergeQueryRows(drows: Pointer, dqueries: Pointer, dpassages: Pointer, segments: [Range<Int>],
                               width: Int) {
        ScorePairs.merge(drows: drows, dqueries: dqueries, dpassages: dpassages, segments: segments, width: width)
    }

    func scorePairsForward(y: Pointer, queries: Pointer, passages: Pointer, queryProducts: Pointer, w: Pointer,
                                  b: Pointer, segments: [Range<Int>], width: Int, outFeatures: Int) throws {
        try ScorePairs.forward(y: y, queries: queries, passages: passages, queryProducts: queryProducts, w: w, b: b,
                               segments: segments, width: width, outFeatures: outFeatures)
    }

    func scorePairsBackward(dqueries: Pointer, dpassages: Pointer, dw: Pointer, db: Pointer, dy: Pointer,
                                   querySums: Pointer, queries: Pointer, passages: Pointer, w: Pointer,
                                   segments: [Range<Int>], width: Int, outFeatures: Int) throws {
        try ScorePairs.backward(dqueries: dqueries, dpassages: dpassages, dw: dw, db: db, dy: dy, querySums: querySums,
                                queries: queries, passages: passages, w: w, segments: segments, width: width,
                                outFeatures: outFeatures)
    }
}

extension UnsafeMutablePointer: TrainingPointer where Pointee == Float {}

extension FloatBuffer: TrainingBuffer {
    /// Float32 elements.
    var bytes: Int { 4 * count }
}

/// One forward pass's dropout masks on the CPU: mask k of the pass is ``Philox`` stream k under
/// the pass's seed, as the GPU draws it, so the masks are the same on every device.
final class CPUDropout: TrainingDropout {
    private let seed: UInt64
    private var stream: UInt64 = 0

    init(seed: UInt64) { self.seed = seed }

    func drawMask(_ mask: UnsafeMutablePointer<Float>, count: Int, probability p: Float) {
        Philox.dropoutMask(mask, count: count, probability: p, seed: seed, stream: stream)
        stream += 1
    }
}
