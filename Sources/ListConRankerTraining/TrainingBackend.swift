/// The operations the trainer's forward and backward passes are written against, so that one
/// forward/backward pair serves every device (issue 30): ``CPUTrainingBackend`` runs them on the
/// CPU ops of this module (oneDNN products and the C kernels); a GPU backend runs the same
/// operations on cuBLASLt and the kernels of `CUDATrainingKernelSource`.
///
/// Buffers are Float32 arrays on the backend's device, addressed through ``Pointer`` (a device
/// address that `+ n` advances by n elements). Every operation's meaning, and whether it writes or
/// adds to its output, is that of the CPU op it is named after; the CPU backend is the reference.
/// Segments are the rows of each list (or text), in order.
protocol TrainingBackend: Sendable {
    /// An address of Float32 elements on the device.
    associatedtype Pointer: TrainingPointer
    /// An owned buffer of Float32 elements on the device.
    associatedtype Buffer: TrainingBuffer where Buffer.Pointer == Pointer
    /// The dropout masks of one forward pass, drawn in order.
    associatedtype Dropout: TrainingDropout where Dropout.Pointer == Pointer

    /// `count` zeros.
    func zeros(_ count: Int) throws -> Buffer
    /// `count` elements whose values are unspecified until written: for a buffer that an operation
    /// writes whole before anything reads it (an activation), which on a GPU would otherwise be
    /// cleared for nothing, a pass over its memory. The CPU's are zeros all the same.
    func scratch(_ count: Int) throws -> Buffer
    /// `count` uncleared elements that only the matrix products read, besides the one operation
    /// that writes them (GELU's output and attention's context in the encoder, each read by the next
    /// product and its weight gradient; attention's qkv, written by a linear layer, whose products
    /// are attention's own; in the encoder's backward, the output gradients of its linear
    /// layers, which their bias gradients' column sums read too): where the products read bf16, they
    /// are stored in bf16, so the writer rounds once and no product converts them again. Elsewhere
    /// ``scratch(_:)``.
    func productOperand(_ count: Int) throws -> Buffer
    /// `count` uncleared elements of an activation that products read besides other operations (a
    /// LayerNorm's output: the next residual sum reads it too; the list head's GELU output, which its
    /// dropout multiplies in place): where the products read bf16, it carries a bf16 copy that its
    /// writers, the LayerNorm forwards, ``geluForward(y:x:count:)`` and ``multiply(_:by:count:)`` with a
    /// ``dropoutMask(_:probability:)``, write with it and the products read (no conversion before its
    /// forward product and again before its weight gradient), and other writers refuse it. Elsewhere
    /// ``scratch(_:)``.
    func withProductCopy(_ count: Int) throws -> Buffer
    /// The Float32 values of an activation whose products read `copy`, a ``productOperand(_:)`` that
    /// keeps what the products read apart from the values (kept across a pass while the values are
    /// one layer's scratch: the encoder's first LayerNorm output under
    /// ``EncoderRecomputation/attention``, whose backward reads only the copy). nil where the operand
    /// is Float32, and so holds the values itself; otherwise `copy.count` uncleared elements. The
    /// two together hold what a ``withProductCopy(_:)`` of that count holds.
    func productCopyValues(for copy: Buffer) throws -> Buffer?
    /// The address through which the writers of a ``withProductCopy(_:)`` write (and its readers read)
    /// the activation held as `values` and `copy` (``productCopyValues(for:)``): the values', with its
    /// copy at `copy`, or `copy`'s where it holds the values.
    func activation(_ values: Buffer?, copy: Buffer) throws -> Pointer
    /// `count` zeros for master parameters, which only ``upload(_:to:)`` and
    /// ``adamWUpdate(parameters:firstMoments:secondMoments:gradients:count:decaying:scalars:)``
    /// write: where the products read bf16, those keep a bf16 copy that the products read, so no
    /// product converts a weight. Elsewhere ``zeros(_:)``.
    func parameters(_ count: Int) throws -> Buffer
    /// An uncleared dropout mask of `count` elements at probability `p`, which
    /// ``drawDropoutMask(_:count:probability:seed:stream:)`` or a ``TrainingDropout`` fills (at the
    /// same `p`) and only ``multiply(_:by:count:)`` and the attention operations read: its elements are
    /// 0 or 1/(1 − p), however the backend stores them (a GPU: a byte each).
    func dropoutMask(_ count: Int, probability p: Float) throws -> Buffer
    /// A copy of `values` on the device.
    func upload(_ values: [Float]) throws -> Buffer
    /// `target[0 ..< values.count] = values`.
    func upload(_ values: [Float], to target: Pointer) throws
    /// `count` elements from `pointer`.
    func download(_ pointer: Pointer, count: Int) throws -> [Float]
    /// `target[0 ..< count] = source[0 ..< count]`.
    func copy(_ source: Pointer, to target: Pointer, count: Int) throws
    /// The dropout masks of a forward pass seeded by `seed`.
    func dropout(seed: UInt64) -> Dropout
    /// Bytes new buffers can take on the device, when it has a fixed memory (a GPU); nil for the
    /// host's memory, which the trainer does not budget.
    func availableBytes() throws -> Int?
    /// How this backend stores each kind of buffer, for ``EncoderActivationMemory``'s count.
    var activationStorage: ActivationStorage { get }

    // MARK: Linear layers (LinearOps)

    /// `y[rows, out] = x[rows, in] · w[out, in]ᵀ + b` (no bias when `b` is nil).
    func linearForward(y: Pointer, x: Pointer, w: Pointer, b: Pointer?, rows: Int, inFeatures: Int,
                       outFeatures: Int) throws
    /// `dx += dy · w` (skipped when nil; with `dxWrite` `.replace`, `dx = dy · w`), `dw += dyᵀ · x`
    /// (skipped when nil, and then `x` is not read), `db += Σ_rows dy` (when given). `dy` may be a
    /// ``productOperand(_:)``. A layer whose input gradient must come before its weight gradient (one
    /// whose input the backward re-runs from the input gradient's pass: ``geluForwardBackward(y:dx:dy:x:rows:width:biasGradient:)``)
    /// calls it twice, the same sums either way.
    func linearBackward(dx: Pointer?, dxWrite: GradientWrite, dw: Pointer?, db: Pointer?, dy: Pointer, x: Pointer,
                        w: Pointer, rows: Int, inFeatures: Int, outFeatures: Int) throws

    // MARK: Normalisation, activations, element-wise (LayerNormOps, ActivationOps, ElementOps)

    /// LayerNorm of each row, keeping each row's mean and reciprocal standard deviation.
    func layerNormForward(y: Pointer, mean: Pointer, rstd: Pointer, x: Pointer, gamma: Pointer, beta: Pointer,
                          rows: Int, width: Int, eps: Float) throws
    /// A dropout branch `x` joining its residual, `x = x ⊙ mask + residual` (a ``dropoutMask(_:probability:)``,
    /// rounded after the product and after the sum, as ``multiply(_:by:count:)`` and then ``add(_:_:count:)``;
    /// without a mask `x += residual`), and then
    /// ``layerNormForward(y:mean:rstd:x:gamma:beta:rows:width:eps:)`` of that sum, which `x` keeps for the
    /// backward: the same values as those calls, in one pass on a GPU (which reads the sum once, not twice).
    func layerNormForward(y: Pointer, mean: Pointer, rstd: Pointer, joining x: Pointer, maskedBy mask: Pointer?,
                          to residual: Pointer, gamma: Pointer, beta: Pointer, rows: Int, width: Int, eps: Float) throws
    /// `dx += …` (with `dxWrite` `.replace`, `dx = …`), `dgamma += …`, `dbeta += …`.
    func layerNormBackward(dx: Pointer, dxWrite: GradientWrite, dgamma: Pointer, dbeta: Pointer, dy: Pointer,
                           x: Pointer, mean: Pointer, rstd: Pointer, gamma: Pointer, rows: Int, width: Int) throws
    /// ``layerNormBackward(dx:dxWrite:dgamma:dbeta:dy:x:mean:rstd:gamma:rows:width:)`` replacing `dx`, and
    /// `branch = dx ⊙ mask` (a ``dropoutMask(_:probability:)``; `branch` Float32 or a product operand), as
    /// ``multiply(_:by:into:count:)`` after it writes it: the gradient of the dropout branch that joined
    /// the residual sum this LayerNorm normalised, in the same pass (a GPU reads dx once less).
    func layerNormBackward(dx: Pointer, maskedBy mask: Pointer, into branch: Pointer, dgamma: Pointer, dbeta: Pointer,
                           dy: Pointer, x: Pointer, mean: Pointer, rstd: Pointer, gamma: Pointer, rows: Int,
                           width: Int) throws
    /// `y = GELU(x)` (erf form).
    func geluForward(y: Pointer, x: Pointer, count: Int) throws
    /// `dx = dy · GELU′(x)` (overwritten; `dy` and `dx` may be ``productOperand(_:)``s).
    func geluBackward(dx: Pointer, dy: Pointer, x: Pointer, count: Int) throws
    /// ``geluForward(y:x:count:)`` and ``geluBackward(dx:dy:x:count:)`` in one pass over `x`
    /// (`[rows, width]`): what a backward that re-runs GELU needs (its output for the next layer's
    /// weight gradient, and its input gradient), the same values as the two calls; and the gradient of
    /// the bias before it, `biasGradient += Σ_rows dx` (of `dx` as stored), as the product's backward
    /// would sum it, so that `dx` is not read again for it. `y` and `dx` may be product operands.
    func geluForwardBackward(y: Pointer, dx: Pointer, dy: Pointer, x: Pointer, rows: Int, width: Int,
                             biasGradient: Pointer) throws
    /// `y[r, 0 ..< width] = max(x[r, 0 ..< width], 0)` for `rows` rows of the given row strides.
    func reluForward(y: Pointer, yStride: Int, x: Pointer, xStride: Int, rows: Int, width: Int) throws
    /// `dx[r] += dy[r]` where `x[r] > 0`, for `rows` rows of the given row strides.
    func reluBackward(dx: Pointer, dxStride: Int, dy: Pointer, dyStride: Int, x: Pointer, xStride: Int, rows: Int,
                      width: Int) throws
    /// `x ⊙= y` (a dropout mask applied, forward or backward).
    func multiply(_ x: Pointer, by y: Pointer, count: Int) throws
    /// `z = x ⊙ y`, `x` left as it is (a dropout mask applied to a gradient that also goes on
    /// unmasked, along a residual); `z` may be a ``productOperand(_:)``, `y` a ``dropoutMask(_:probability:)``.
    func multiply(_ x: Pointer, by y: Pointer, into z: Pointer, count: Int) throws

    // MARK: The list head's own layers (ListAttentionOps, ScorePairs, the query tag)

    /// `out[r] = f[r] + tags[r is its list's first row ? 1 : 0]`.
    func addQueryTags(out: Pointer, f: Pointer, tags: Pointer, segments: [Range<Int>], width: Int) throws
    /// `df[r] += dout[r]`, `dtags[r is first ? 1 : 0] += dout[r]` (rows summed in order).
    func queryTagsBackward(df: Pointer, dtags: Pointer, dout: Pointer, segments: [Range<Int>], width: Int) throws
    /// Attention under the ListAttention mask; `probabilities` receives what the backend keeps of the
    /// softmax for the backward (``ActivationStorage/attentionKeptCount(lengths:heads:)`` Float32
    /// elements of its ``activationStorage``: the CPU the probabilities, a GPU each row's
    /// log-sum-exp); `mask` the dropout mask of the probabilities (already drawn), nil without dropout.
    func listAttentionForward(context: Pointer, probabilities: Pointer, mask: Pointer?, qkv: Pointer,
                              segments: [Range<Int>], width: Int, heads: Int) throws
    /// `dqkv += …` (with `dqkvWrite` `.replace`, `dqkv = …`) through what the forward kept of the
    /// probabilities, and the mask. `dqkv` may be a ``productOperand(_:)`` when it is replaced.
    func listAttentionBackward(dqkv: Pointer, dqkvWrite: GradientWrite, dcontext: Pointer, probabilities: Pointer,
                               mask: Pointer?, qkv: Pointer, segments: [Range<Int>], width: Int, heads: Int) throws
    /// Each list's first row to `queries[L, W]`, the others to `passages[P, W]`.
    func splitQueryRows(rows: Pointer, queries: Pointer, passages: Pointer, segments: [Range<Int>], width: Int) throws
    /// `drows += ` the split gradients put back on their rows.
    func mergeQueryRows(drows: Pointer, dqueries: Pointer, dpassages: Pointer, segments: [Range<Int>],
                        width: Int) throws
    /// A score layer on `[query ; passage]` pairs: ``ScorePairs/forward``.
    func scorePairsForward(y: Pointer, queries: Pointer, passages: Pointer, queryProducts: Pointer, w: Pointer,
                           b: Pointer, segments: [Range<Int>], width: Int, outFeatures: Int) throws
    /// Its gradients: ``ScorePairs/backward``.
    func scorePairsBackward(dqueries: Pointer, dpassages: Pointer, dw: Pointer, db: Pointer, dy: Pointer,
                            querySums: Pointer, queries: Pointer, passages: Pointer, w: Pointer,
                            segments: [Range<Int>], width: Int, outFeatures: Int) throws

    // MARK: The loss (CircleLoss)

    /// Circle Loss of each list's logits (`segments`: each list's rows, its query and then its passages,
    /// as the head's operations take them; `logits` holds one a passage, list after list), a passage
    /// relevant where `relevant` holds 1 (0 elsewhere; each list has both,
    /// as ``CircleLoss/check(relevant:listLengths:)`` checks on the host): `losses[k]` = list k's loss
    /// and `dlogits` their gradient divided by `divisor`, the `listLosses` and `logitGradients` of
    /// ``CircleLoss/evaluate(logits:relevant:listLengths:listCount:)`` with `listCount` `divisor`
    /// (computed as it computes them, in Double list by list): so that a step's loss needs no round
    /// trip to the host.
    func circleLoss(_ loss: CircleLoss, dlogits: Pointer, losses: Pointer, logits: Pointer, relevant: Pointer,
                    segments: [Range<Int>], divisor: Int) throws

    // MARK: The encoder's own layers (EncoderTokenOps, EncoderAttentionOps, Philox)

    /// `x[0 ..< count] = 0`.
    func clear(_ x: Pointer, count: Int) throws
    /// `x += y` (a residual add).
    func add(_ x: Pointer, _ y: Pointer, count: Int) throws
    /// Fills `mask[0 ..< count]` with Philox dropout mask `stream` of `seed` (``Philox/dropoutMask``):
    /// how the encoder draws, and recomputation redraws, a mask named by its site and layer.
    func drawDropoutMask(_ mask: Pointer, count: Int, probability p: Float, seed: UInt64, stream: UInt64) throws
    /// `sums[row] = (words[id] + tokenType) + positions[i]` for every token of `texts` (packed):
    /// ``EncoderTokenOps/embed``.
    func embedTokens(sums: Pointer, words: Pointer, tokenType: Pointer, positions: Pointer, texts: [[Int32]],
                     width: Int) throws
    /// Its backward, added into the tables' rows token after token: ``EncoderTokenOps/embedBackward``.
    func embedTokensBackward(dwords: Pointer, dtokenType: Pointer, dpositions: Pointer, dsums: Pointer,
                             texts: [[Int32]], width: Int) throws
    /// BERT attention within each text (segments), `mask` the probabilities' dropout mask (already
    /// drawn), `probabilities` what the backend keeps of the softmax (as
    /// ``listAttentionForward(context:probabilities:mask:qkv:segments:width:heads:)``'s); a nil
    /// `context` stops after that: ``EncoderAttentionOps/forward``.
    func encoderAttentionForward(context: Pointer?, probabilities: Pointer, mask: Pointer?, qkv: Pointer,
                                 segments: [Range<Int>], hidden: Int, heads: Int) throws
    /// `dqkv += …` (with `dqkvWrite` `.replace`, `dqkv = …`) through what the forward kept and the mask:
    /// ``EncoderAttentionOps/backward``. `dqkv` may be a ``productOperand(_:)`` when it is replaced.
    func encoderAttentionBackward(dqkv: Pointer, dqkvWrite: GradientWrite, dcontext: Pointer, probabilities: Pointer,
                                  mask: Pointer?, qkv: Pointer, segments: [Range<Int>], hidden: Int, heads: Int) throws
    /// `pooled[t]` = the mean of segment t's rows (summed in Double): ``EncoderTokenOps/meanPool``.
    func meanPoolForward(pooled: Pointer, hidden: Pointer, segments: [Range<Int>], width: Int) throws
    /// `dhidden[row] = dpooled[t] / L_t` for each row of segment t (overwritten).
    func meanPoolBackward(dhidden: Pointer, dpooled: Pointer, segments: [Range<Int>], width: Int) throws

    // MARK: The step's tail (GradientSum, GradientClipping, AdamW), for state resident on the device

    /// `sums[i] += x[i]` in Double (`.replace`: `sums[i] = x[i]`, so a step's first micro-batch needs
    /// no cleared sums), then `x[i] = 0`, for `i < count`: `sums` holds `count` Doubles (the storage of
    /// `2·count` elements).
    func accumulateInDouble(_ sums: Pointer, _ x: Pointer, count: Int, write: GradientWrite) throws
    /// `x[i] = Float(sums[i])` (rounded to nearest) for `i < count`; with `addingX`,
    /// `x[i] = Float(sums[i] + Double(x[i]))`: a step's last micro-batch summed as it is rounded, what
    /// ``accumulateInDouble(_:_:count:write:)`` and then the rounding give, in one pass.
    func roundFromDouble(_ x: Pointer, _ sums: Pointer, count: Int, addingX: Bool) throws
    /// Σ x² in Double of each block of ``GradientClipping/block`` elements of `x[0 ..< count]`, in order.
    func squaredSumBlocks(_ x: Pointer, count: Int) throws -> [Double]
    /// `x *= factor`.
    func scale(_ x: Pointer, by factor: Float, count: Int) throws
    /// One AdamW update of `count` elements under `scalars`, those in the sorted, disjoint
    /// `decaying` ranges decayed first: ``AdamW/update(parameters:firstMoments:secondMoments:gradients:count:decaying:scalars:)``.
    func adamWUpdate(parameters: Pointer, firstMoments: Pointer, secondMoments: Pointer, gradients: Pointer,
                     count: Int, decaying: [Range<Int>], scalars: AdamW.StepScalars) throws
}

/// How a backward operation writes the gradient of its input: added to what the buffer holds (where
/// several contributions meet), or in place of it (the only contribution, into a buffer that was not
/// cleared: on a GPU a pass over memory saved).
enum GradientWrite: Sendable {
    case add, replace
}

extension TrainingBackend {
    /// ``linearBackward(dx:dxWrite:dw:db:dy:x:w:rows:inFeatures:outFeatures:)`` adding to `dx`.
    func linearBackward(dx: Pointer?, dw: Pointer?, db: Pointer?, dy: Pointer, x: Pointer, w: Pointer, rows: Int,
                        inFeatures: Int, outFeatures: Int) throws {
        try linearBackward(dx: dx, dxWrite: .add, dw: dw, db: db, dy: dy, x: x, w: w, rows: rows,
                           inFeatures: inFeatures, outFeatures: outFeatures)
    }

    /// ``encoderAttentionBackward(dqkv:dqkvWrite:dcontext:probabilities:mask:qkv:segments:hidden:heads:)``
    /// adding to `dqkv`.
    func encoderAttentionBackward(dqkv: Pointer, dcontext: Pointer, probabilities: Pointer, mask: Pointer?,
                                  qkv: Pointer, segments: [Range<Int>], hidden: Int, heads: Int) throws {
        try encoderAttentionBackward(dqkv: dqkv, dqkvWrite: .add, dcontext: dcontext, probabilities: probabilities,
                                     mask: mask, qkv: qkv, segments: segments, hidden: hidden, heads: heads)
    }

    /// ``layerNormBackward(dx:dxWrite:dgamma:dbeta:dy:x:mean:rstd:gamma:rows:width:)`` adding to `dx`.
    func layerNormBackward(dx: Pointer, dgamma: Pointer, dbeta: Pointer, dy: Pointer, x: Pointer, mean: Pointer,
                           rstd: Pointer, gamma: Pointer, rows: Int, width: Int) throws {
        try layerNormBackward(dx: dx, dxWrite: .add, dgamma: dgamma, dbeta: dbeta, dy: dy, x: x, mean: mean, rstd: rstd,
                              gamma: gamma, rows: rows, width: width)
    }
}

/// A device address of Float32 elements.
protocol TrainingPointer {
    /// The address `offset` elements further.
    static func + (base: Self, offset: Int) -> Self
}

/// An owned device buffer, freed with the object.
protocol TrainingBuffer: AnyObject {
    /// Its address type.
    associatedtype Pointer: TrainingPointer
    /// Elements.
    var count: Int { get }
    /// Bytes it holds on the device (a bf16 copy included), as ``ActivationStorage`` counts them.
    var bytes: Int { get }
    /// The first element.
    var pointer: Pointer { get }
}

/// The dropout masks of one forward pass: each call draws the next mask (0 or 1/(1 − p) per
/// element), so a pass's masks depend only on its seed and the order of the calls.
protocol TrainingDropout: AnyObject {
    /// Its address type.
    associatedtype Pointer: TrainingPointer
    /// Fills `mask[0 ..< count]` with the next mask of probability `p`.
    func drawMask(_ mask: Pointer, count: Int, probability p: Float) throws
}
