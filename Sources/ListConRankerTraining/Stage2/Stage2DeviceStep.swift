import ListConRankerCUDA

/// Stage 2's forward and backward of micro-batches on a backend's device: the encoder
/// (``EncoderNetwork``'s one generic pass) and then the list head, with both networks' parameters
/// resident there for a step. What `train --stage 2 --device cuda` runs, and what the tests run on
/// both backends to compare them.
///
/// The optimizer step and clipping stay with the caller on the host for now, as in stage 1
/// (``ListHeadDeviceStep``): the gradients come back once per micro-batch (added to the host's),
/// and the updated parameters go up once per step (``load(encoder:head:)``). The pooled vectors
/// and their gradient cross to the host and back once per micro-batch (texts × hidden floats),
/// because the head's batch is built on the host.
final class Stage2DeviceStep<Backend: TrainingBackend> {
    let encoder: EncoderNetwork
    let head: ListHeadNetwork
    let backend: Backend
    let recomputation: EncoderRecomputation
    private var encoderParameters: Backend.Buffer?
    private var headParameters: Backend.Buffer?

    init(encoder: EncoderNetwork, head: ListHeadNetwork, recomputation: EncoderRecomputation, backend: Backend) {
        self.encoder = encoder
        self.head = head
        self.recomputation = recomputation
        self.backend = backend
    }

    /// Puts both networks' parameters on the device for the micro-batches that follow.
    func load(encoder parameters: EncoderParameters, head headParameters: ListHeadParameters) throws {
        try encoder.check(parameters.layout)
        guard headParameters.layout.shape == head.shape else {
            throw TrainingError.invalidInput("parameters of shape (\(headParameters.layout.shape)) for a network of (\(head.shape))")
        }
        encoderParameters = try backend.upload(parameters.values)
        self.headParameters = try backend.upload(headParameters.values)
    }

    /// Runs one micro-batch: `texts` (token ids; each list's query, then its passages, list after
    /// list, `listLengths` texts a list) through the encoder (masks of `encoderSeed`) and the head
    /// (masks of `headSeed`), asks `logitGradients` for the loss's gradient given the logits, runs
    /// both backwards, and adds the parameters' gradients to `headGradients` and
    /// `encoderGradients`. Returns the logits.
    /// A GPU without room for the micro-batch is an error that says what makes training fit first
    /// (the memory pool's own message, kept after it, names inference options).
    func run(texts: [[Int32]], listLengths: [Int], encoderSeed: UInt64, headSeed: UInt64,
             headGradients: inout ListHeadGradients, encoderGradients: inout EncoderGradients,
             logitGradients: ([Float]) throws -> [Float]) throws -> [Float] {
        do {
            return try forwardAndBackward(texts: texts, listLengths: listLengths, encoderSeed: encoderSeed,
                                          headSeed: headSeed, headGradients: &headGradients,
                                          encoderGradients: &encoderGradients, logitGradients: logitGradients)
        } catch let error as CUDAError where error.description.contains("CUDA_ERROR_OUT_OF_MEMORY") {
            // Still a CUDAError: the command line reports a GPU's failures in one line with exit status 2.
            throw CUDAError("a micro-batch of \(listLengths.count) lists (\(texts.count) texts) does not fit on the GPU "
                + "for training; fewer lists per micro-batch (--micro-batch-size), a lower --max-length, or keeping "
                + "less for the backward (--recompute, --recompute-layers) would fit. \(error)")
        }
    }

    private func forwardAndBackward(texts: [[Int32]], listLengths: [Int], encoderSeed: UInt64, headSeed: UInt64,
                                    headGradients: inout ListHeadGradients, encoderGradients: inout EncoderGradients,
                                    logitGradients: ([Float]) throws -> [Float]) throws -> [Float] {
        guard let encoderParameters, let headParameters, encoderParameters.count == encoderGradients.values.count,
              headParameters.count == headGradients.values.count else {
            throw TrainingError.invalidInput("the networks' parameters are not on the device (load them first)")
        }
        let hidden = encoder.shape.hidden
        let encoded = try encoder.activations(for: texts, dropoutSeed: encoderSeed, recomputation: recomputation,
                                              backend: backend)
        try encoder.forward(encoded, parameters: encoderParameters.pointer, backend: backend)
        let pooled = try backend.download(encoded.pooled.pointer, count: texts.count * hidden)
        let batch = try ListBatch(pooled: pooled, hidden: hidden, listLengths: listLengths)
        try head.check(batch, headGradients.layout)

        let headDeviceGradients = try backend.zeros(headParameters.count)
        let dpooled = try backend.zeros(pooled.count)
        let logits = try head.forwardAndBackward(batch, parameters: headParameters.pointer, dropoutSeed: headSeed,
                                                 gradients: headDeviceGradients.pointer, pooledGradients: dpooled,
                                                 backend: backend, logitGradients: logitGradients)
        let encoderDeviceGradients = try backend.zeros(encoderParameters.count)
        try encoder.backward(encoded, pooledGradients: dpooled.pointer, parameters: encoderParameters.pointer,
                             gradients: encoderDeviceGradients.pointer, backend: backend, finished: nil)
        addDownloaded(try backend.download(headDeviceGradients.pointer, count: headParameters.count),
                      to: &headGradients.values)
        addDownloaded(try backend.download(encoderDeviceGradients.pointer, count: encoderParameters.count),
                      to: &encoderGradients.values)
        return logits
    }
}
