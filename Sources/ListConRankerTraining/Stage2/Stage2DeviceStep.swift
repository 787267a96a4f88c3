import ListConRankerCUDA

/// Stage 2's forward and backward of micro-batches on a backend's device: the encoder
/// (``EncoderNetwork``'s one generic pass) and then the list head, on the parameters of a
/// ``DeviceTrainingState`` (resident there for the run), adding to its gradients. What
/// `train --stage 2 --device cuda` runs, and what the tests run on both backends to compare them.
///
/// The pooled vectors and their gradient cross to the host and back once per micro-batch (texts ×
/// hidden floats), because the head's batch is built on the host.
final class Stage2DeviceStep<Backend: TrainingBackend> {
    let encoder: EncoderNetwork
    let head: ListHeadNetwork
    let backend: Backend
    /// The mode asked for (or the automatic one).
    let recomputation: EncoderRecomputation
    /// Whether a micro-batch whose activations would not fit in the device's free memory in that
    /// mode runs in the first leaner one that fits (a run that chose no mode).
    let fitsMemory: Bool
    /// The mode the last micro-batch ran in.
    private(set) var lastRecomputation: EncoderRecomputation
    /// The encoder's activation peak for the last micro-batch in that mode on this backend, by
    /// ``EncoderActivationMemory``'s count (`train --profile` reports it beside the measured peak).
    private(set) var lastActivationBytes = 0

    init(encoder: EncoderNetwork, head: ListHeadNetwork, recomputation: EncoderRecomputation, fitsMemory: Bool = false,
         backend: Backend) {
        self.encoder = encoder
        self.head = head
        self.recomputation = recomputation
        self.fitsMemory = fitsMemory
        self.backend = backend
        lastRecomputation = recomputation
    }

    /// The mode for a micro-batch of `texts`: ``recomputation``, or with ``fitsMemory`` the first
    /// of it and the leaner modes whose activations (``EncoderActivationMemory``, with a tenth and
    /// 64 MiB to spare for the list head and the pool's rounding) fit in the device's free memory;
    /// the leanest when none does (its failure then names the options that make room).
    func recomputation(for texts: [[Int32]]) throws -> EncoderRecomputation {
        guard fitsMemory, let available = try backend.availableBytes() else { return recomputation }
        let lengths = texts.map(\.count), modes = recomputation.andLeaner
        return modes.first { mode in
            let peak = activationMemory(lengths: lengths, recomputation: mode).peakBytes
            return peak + peak / 10 + (64 << 20) <= available
        } ?? modes.last ?? recomputation
    }

    /// The encoder's activation memory for texts of `lengths` tokens in `recomputation`, stored as
    /// this backend stores them.
    func activationMemory(lengths: [Int], recomputation: EncoderRecomputation) -> EncoderActivationMemory {
        EncoderActivationMemory(lengths: lengths, shape: encoder.shape, dropout: encoder.dropout,
                                recomputation: recomputation, storage: backend.activationStorage)
    }

    /// Runs one micro-batch: `texts` (token ids; each list's query, then its passages, list after
    /// list, `listLengths` texts a list) through the encoder (masks of `encoderSeed`) and the head
    /// (masks of `headSeed`), the loss's gradient as `loss` says, both backwards, and adds the
    /// parameters' gradients to `state`'s. Returns the logits, on the device: the pooled vectors, the
    /// loss and the gradients stay there, so the host enqueues the micro-batch without waiting. `clock`
    /// (`train --profile`) hears of each phase's end; `finished`, of each part whose gradients are
    /// complete: nil for the list head, then the encoder's layers from the last down, -1 for the
    /// embeddings (so that several ranks can sum them while the backward goes on).
    /// A GPU without room for the micro-batch is an error that says what makes training fit first
    /// (the memory pool's own message, kept after it, names inference options).
    func run(texts: [[Int32]], listLengths: [Int], encoderSeed: UInt64, headSeed: UInt64,
             state: DeviceTrainingState<Backend>, clock: PhaseClock? = nil,
             finished: ((_ part: Int?) throws -> Void)? = nil,
             loss: HeadLossGradient<Backend>) throws -> Backend.Buffer {
        do {
            return try forwardAndBackward(texts: texts, listLengths: listLengths, encoderSeed: encoderSeed,
                                          headSeed: headSeed, state: state, clock: clock, finished: finished, loss: loss)
        } catch let error as CUDAError where error.description.contains("CUDA_ERROR_OUT_OF_MEMORY") {
            // Still a CUDAError: the command line reports a GPU's failures in one line with exit status 2.
            throw CUDAError("a micro-batch of \(listLengths.count) lists (\(texts.count) texts) does not fit on the GPU "
                + "for training; fewer lists per micro-batch (--micro-batch-size), a lower --max-length, or keeping "
                + "less for the backward (--recompute, --recompute-layers) would fit. \(error)")
        }
    }

    private func forwardAndBackward(texts: [[Int32]], listLengths: [Int], encoderSeed: UInt64, headSeed: UInt64,
                                    state: DeviceTrainingState<Backend>, clock: PhaseClock?,
                                    finished: ((_ part: Int?) throws -> Void)?,
                                    loss: HeadLossGradient<Backend>) throws -> Backend.Buffer {
        guard let encoderLayout = state.encoderLayout else {
            throw TrainingError.invalidInput("stage 2 needs the encoder's parameters on the device")
        }
        try encoder.check(encoderLayout)
        let hidden = encoder.shape.hidden
        lastRecomputation = try recomputation(for: texts)
        lastActivationBytes = activationMemory(lengths: texts.map(\.count), recomputation: lastRecomputation).peakBytes
        let encoded = try encoder.activations(for: texts, dropoutSeed: encoderSeed, recomputation: lastRecomputation,
                                              backend: backend)
        let lists = try ListRows(listLengths: listLengths, hidden: hidden)
        guard lists.rows == texts.count else {
            throw TrainingError.invalidInput("lists of \(listLengths) texts for \(texts.count) texts")
        }
        try head.check(lists, state.headLayout)
        try encoder.forward(encoded, parameters: state.encoderParameters, backend: backend)
        try clock?.lap("encoder_forward")

        let dpooled = try backend.zeros(texts.count * hidden)
        let logits = try head.forwardAndBackward(lists, pooled: encoded.pooled, parameters: state.headParameters,
                                                 dropoutSeed: headSeed, gradients: state.headGradients,
                                                 pooledGradients: dpooled, backend: backend, loss: loss)
        try clock?.lap("list_head")
        try finished?(nil)
        try encoder.backward(encoded, pooledGradients: dpooled.pointer, parameters: state.encoderParameters,
                             gradients: state.encoderGradients, backend: backend, finished: finished.map { report in { try report($0) } })
        try clock?.lap("encoder_backward")
        return logits
    }
}
