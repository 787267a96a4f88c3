/// A run's training state resident on a backend's device across steps (issue 30): the fp32
/// master parameters — the list head's, then in stage 2 the encoder's, in one flat buffer in the
/// training state file's order — their gradients, and AdamW's moments. A GPU step then moves no
/// parameters: micro-batches add their gradients here, and the step's tail runs on the device —
/// the sum over micro-batches (in Double, or where the gradients are: ``MicroBatchSum``), clipping
/// by global norm, AdamW — with the same operations, in the same order, as the host's
/// ``GradientSum``, ``GradientClipping`` and ``AdamW``.
///
/// The encoder's part starts at ``encoderOffset``, the head's count rounded up to whole 512-byte
/// blocks: the head ends in a one-element bias, and an encoder placed right after it would put every
/// weight, and its bf16 copy, a few bytes off the alignment the products are fastest at (cuBLASLt is
/// told each pointer's alignment, so they would still run, on slower algorithms). The gap's elements
/// are zeros that no optimizer step touches.
///
/// The host's copies go stale during the run and are brought up to date when they are read
/// (``downloadParameters()``, ``downloadMoments()``): for an evaluation, a
/// checkpoint, the end of the run. The optimizers' step counts and hyperparameters stay on the
/// host (``AdamW/beginStep(learningRate:)``), so the trainer's loop reads them as before.
final class DeviceTrainingState<Backend: TrainingBackend> {
    /// Where a step's micro-batches' gradients add up.
    enum MicroBatchSum: Sendable {
        /// In the Float32 gradients themselves: each micro-batch's backward adds to what the ones
        /// before it left there, as PyTorch accumulates `.grad`. What a step of one micro-batch
        /// needs, a job whose ranks take each micro-batch's gradients (``takeGradients()``), and
        /// mixed precision (bf16 products), whose sums are no longer the CPU's to the bit anyway.
        case inPlace
        /// In Double beside them (8 bytes a parameter), rounded once when the step clips: the
        /// CPU's ``GradientSum``, the same sum however the batch is split (fp32, the parity mode).
        case inDouble
    }

    let backend: Backend
    /// The list head's parameters' layout.
    let headLayout: ParameterLayout
    /// The encoder's (stage 2).
    let encoderLayout: EncoderParameterLayout?
    /// The list head's elements, first in each buffer.
    var headCount: Int { headLayout.count }
    /// The encoder's elements after them (0 in stage 1).
    var encoderCount: Int { encoderLayout?.count ?? 0 }
    private let values: Backend.Buffer
    private let gradients: Backend.Buffer
    private let firstMoments: Backend.Buffer
    private let secondMoments: Backend.Buffer
    /// The step's gradient sums in Double (two elements each), with ``MicroBatchSum/inDouble``.
    private let sums: Backend.Buffer?
    private let headDecaying: [Range<Int>]
    private let encoderDecaying: [Range<Int>]

    /// Puts `head` (and `encoder`) with their optimizers' moments on the device; `microBatches`: where
    /// a step's micro-batches' gradients add up (``endMicroBatch(last:)``).
    init(backend: Backend, head: ListHeadParameters, headOptimizer: AdamW, encoder: EncoderParameters?,
         encoderOptimizer: AdamW?, microBatches: MicroBatchSum) throws {
        guard headOptimizer.parameterCount == head.values.count,
              encoder?.values.count == encoderOptimizer?.parameterCount else {
            throw TrainingError.invalidInput("an optimizer of another size than its parameters")
        }
        self.backend = backend
        headLayout = head.layout
        encoderLayout = encoder?.layout
        headDecaying = headOptimizer.decayingRanges
        encoderDecaying = encoderOptimizer?.decayingRanges ?? []
        let total = Self.total(head: head.values.count, encoder: encoder?.values.count ?? 0)
        let encoderOffset = Self.encoderOffset(head: head.values.count)
        func place(_ head: [Float], _ encoder: [Float]?, parameters: Bool = false) throws -> Backend.Buffer {
            let buffer = parameters ? try backend.parameters(total) : try backend.zeros(total)
            try backend.upload(head, to: buffer.pointer)
            if let encoder { try backend.upload(encoder, to: buffer.pointer + encoderOffset) }
            return buffer
        }
        values = try place(head.values, encoder?.values, parameters: true)
        firstMoments = try place(headOptimizer.firstMoments, encoderOptimizer?.firstMoments)
        secondMoments = try place(headOptimizer.secondMoments, encoderOptimizer?.secondMoments)
        gradients = try backend.zeros(total)
        sums = microBatches == .inDouble ? try backend.zeros(2 * total) : nil
    }

    /// Elements a buffer holds: the head's, then from ``encoderOffset`` the encoder's.
    private var total: Int { Self.total(head: headCount, encoder: encoderCount) }
    /// Where the encoder's elements start in each buffer: the head's count rounded up to a multiple of
    /// 128 elements (512 bytes of Float32, 256 of a bf16 copy).
    var encoderOffset: Int { Self.encoderOffset(head: headCount) }

    static func encoderOffset(head: Int) -> Int { (head + 127) / 128 * 128 }
    static func total(head: Int, encoder: Int) -> Int { encoder > 0 ? encoderOffset(head: head) + encoder : head }
    /// The list head's parameters on the device.
    var headParameters: Backend.Pointer { values.pointer }
    /// The encoder's parameters on the device.
    var encoderParameters: Backend.Pointer { values.pointer + encoderOffset }
    /// Where micro-batches add the list head's gradients.
    var headGradients: Backend.Pointer { gradients.pointer }
    /// Where micro-batches add the encoder's gradients.
    var encoderGradients: Backend.Pointer { gradients.pointer + encoderOffset }

    /// Zeroes the gradients for a new step. The sums are not cleared: the step's first micro-batch
    /// stores its gradients in place of theirs (a pass over 8 bytes a parameter saved, and its read).
    func beginStep() throws {
        try backend.clear(gradients.pointer, count: total)
        summedMicroBatches = 0
        lastMicroBatchPending = false
    }

    /// Micro-batches of this step in the sums.
    private var summedMicroBatches = 0
    /// The step's last micro-batch's gradients wait where they are, for ``clip(maxNorm:)`` to add them
    /// to the sums as it rounds.
    private var lastMicroBatchPending = false

    /// A micro-batch's gradients are complete. Summed ``MicroBatchSum/inPlace``, they stay where the
    /// next one adds to them. ``MicroBatchSum/inDouble``: added to the step's sums (the first stored)
    /// and zeroed; the step's `last` stays where it is (so does a step of one micro-batch):
    /// ``clip(maxNorm:)`` adds it while rounding the sums, the same sum in one pass over them instead
    /// of two (20 bytes a parameter less).
    func endMicroBatch(last: Bool = false) throws {
        guard !lastMicroBatchPending else { throw TrainingError.invalidInput("a micro-batch after the step's last") }
        guard let sums else { return }
        if last {
            lastMicroBatchPending = true
            return
        }
        try backend.accumulateInDouble(sums.pointer, gradients.pointer, count: total,
                                       write: summedMicroBatches == 0 ? .replace : .add)
        summedMicroBatches += 1
    }

    /// The gradients as they stand, zeroed on the device: what a job of several processes sums
    /// across its ranks on the host (``GradientSum``) before ``replaceGradients(head:encoder:)``.
    func takeGradients() throws -> (head: [Float], encoder: [Float]) {
        let taken = try parts(gradients)
        try backend.clear(gradients.pointer, count: total)
        return taken
    }

    /// The gradients of `range` of the flat (head, then encoder, without the gap between them) values
    /// as they stand: a bucket handed to the sum across ranks while the backward goes on below it.
    func downloadGradients(_ range: Range<Int>) throws -> [Float] {
        guard range.lowerBound >= 0, range.upperBound <= headCount + encoderCount else {
            throw TrainingError.invalidInput("gradients \(range) of \(headCount + encoderCount)")
        }
        // Each part's share of the range, read where that part lies (an empty share is not read).
        func part(_ part: Range<Int>, at base: Backend.Pointer, from first: Int) throws -> [Float] {
            let share = range.clamped(to: part)
            return share.isEmpty ? [] : try backend.download(base + (share.lowerBound - first), count: share.count)
        }
        return try part(0..<headCount, at: gradients.pointer, from: 0)
            + part(headCount..<headCount + encoderCount, at: encoderGradients, from: headCount)
    }

    /// Puts the step's summed gradients (from the host) in place of the device's.
    func replaceGradients(head: [Float], encoder: [Float]) throws {
        guard head.count == headCount, encoder.count == encoderCount else {
            throw TrainingError.invalidInput("\(head.count) + \(encoder.count) gradients for \(headCount) + \(encoderCount) parameters")
        }
        try backend.upload(head, to: gradients.pointer)
        try backend.upload(encoder, to: encoderGradients)
    }

    /// The step's gradients summed (rounded from Double), then clipped as
    /// ``GradientClipping/clip(_:_:maxNorm:)`` clips: one norm over the head's and the encoder's,
    /// each part's block sums added in order. Returns the norm before clipping; throws when it is
    /// not finite.
    func clip(maxNorm: Float) throws -> Float {
        try GradientClipping.checkMaximum(maxNorm)
        // No micro-batch summed: the gradients are as they stand (beginStep()'s zeros in a step, or a
        // step's only micro-batch), which is what rounding their sum in Double gives.
        if let sums, summedMicroBatches > 0 {
            try backend.roundFromDouble(gradients.pointer, sums.pointer, count: total, addingX: lastMicroBatchPending)
        }
        let head = try backend.squaredSumBlocks(headGradients, count: headCount).reduce(0, +)
        let encoder = try backend.squaredSumBlocks(encoderGradients, count: encoderCount).reduce(0, +)
        let norm = Float((head + encoder).squareRoot())
        let coefficient = try GradientClipping.coefficient(norm: norm, maxNorm: maxNorm)
        if coefficient < 1 { try backend.scale(gradients.pointer, by: coefficient, count: total) }
        return norm
    }

    /// The AdamW step of each part under its optimizer's scalars (``AdamW/beginStep(learningRate:)``).
    func update(head: AdamW.StepScalars, encoder: AdamW.StepScalars?) throws {
        try backend.adamWUpdate(parameters: values.pointer, firstMoments: firstMoments.pointer,
                                secondMoments: secondMoments.pointer, gradients: gradients.pointer, count: headCount,
                                decaying: headDecaying, scalars: head)
        guard encoderCount > 0 else { return }
        guard let encoder else { throw TrainingError.invalidInput("the encoder's step needs its optimizer's scalars") }
        try backend.adamWUpdate(parameters: encoderParameters, firstMoments: firstMoments.pointer + encoderOffset,
                                secondMoments: secondMoments.pointer + encoderOffset, gradients: encoderGradients,
                                count: encoderCount, decaying: encoderDecaying, scalars: encoder)
    }

    /// The parameters as the device holds them (to bring the host's up to date).
    func downloadParameters() throws -> (head: [Float], encoder: [Float]) { try parts(values) }

    /// AdamW's moments as the device holds them (the step counts are the host's).
    func downloadMoments() throws -> (first: (head: [Float], encoder: [Float]), second: (head: [Float], encoder: [Float])) {
        (try parts(firstMoments), try parts(secondMoments))
    }

    private func parts(_ buffer: Backend.Buffer) throws -> (head: [Float], encoder: [Float]) {
        (try backend.download(buffer.pointer, count: headCount),
         try backend.download(buffer.pointer + encoderOffset, count: encoderCount))
    }
}
