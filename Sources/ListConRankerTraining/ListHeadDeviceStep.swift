/// The list head's forward and backward of micro-batches on a backend's device, with the
/// parameters resident there for a step: what stage 1 runs on a GPU (and what the tests run on
/// both backends to compare them).
///
/// The optimizer step and clipping stay with the caller on the host for now: the gradients come
/// back once per micro-batch (added to the host's), and the updated parameters go up once per
/// step (``load(_:)``).
final class ListHeadDeviceStep<Backend: TrainingBackend> {
    let network: ListHeadNetwork
    let backend: Backend
    private var parameters: Backend.Buffer?

    init(network: ListHeadNetwork, backend: Backend) {
        self.network = network
        self.backend = backend
    }

    /// Puts `parameters` on the device for the micro-batches that follow.
    func load(_ parameters: ListHeadParameters) throws {
        guard parameters.layout.shape == network.shape else {
            throw TrainingError.invalidInput("parameters of shape (\(parameters.layout.shape)) for a network of (\(network.shape))")
        }
        self.parameters = try backend.upload(parameters.values)
    }

    /// Runs `batch` forward (masks of `dropoutSeed`), asks `logitGradients` for the loss's gradient
    /// given the logits, runs the backward, and adds the parameters' gradients to `gradients`.
    /// Returns the logits.
    func run(_ batch: ListBatch, dropoutSeed: UInt64, gradients: inout ListHeadGradients,
             logitGradients: ([Float]) throws -> [Float]) throws -> [Float] {
        guard let parameters, parameters.count == gradients.values.count else {
            throw TrainingError.invalidInput("the list head's parameters are not on the device (load them first)")
        }
        try network.check(batch, gradients.layout)
        let deviceGradients = try backend.zeros(parameters.count)
        let logits = try network.forwardAndBackward(batch, parameters: parameters.pointer, dropoutSeed: dropoutSeed,
                                                    gradients: deviceGradients.pointer, pooledGradients: nil,
                                                    backend: backend, logitGradients: logitGradients)
        addDownloaded(try backend.download(deviceGradients.pointer, count: parameters.count), to: &gradients.values)
        return logits
    }
}

extension ListHeadNetwork {
    /// One micro-batch of the head on `backend`'s device, the part stage 1 and stage 2 share:
    /// `batch` forward (masks of `dropoutSeed`), `logitGradients` asked for the loss's gradient
    /// given the logits (on the host), then the backward, adding the parameters' gradients to
    /// `gradients` and, when given, the pooled vectors' to `pooledGradients` (both on the device).
    /// Returns the logits.
    func forwardAndBackward<Backend: TrainingBackend>(
        _ batch: ListBatch, parameters: Backend.Pointer, dropoutSeed: UInt64, gradients: Backend.Pointer,
        pooledGradients: Backend.Buffer?, backend: Backend, logitGradients: ([Float]) throws -> [Float]
    ) throws -> [Float] {
        let pass = try ListHeadActivations(batch: batch, shape: shape, dropout: dropout, backend: backend)
        try forward(pass, parameters: parameters, dropout: backend.dropout(seed: dropoutSeed), backend: backend)
        let logits = try backend.download(pass.logitBuffer.pointer, count: batch.passageCount)
        let dlogits = try logitGradients(logits)
        guard dlogits.count == logits.count else {
            throw TrainingError.invalidInput("\(dlogits.count) logit gradients for \(logits.count) logits")
        }
        try backward(pass, logitGradients: try backend.upload(dlogits), parameters: parameters, gradients: gradients,
                     pooled: pooledGradients, backend: backend)
        return logits
    }
}

/// `host[i] += values[i]`: a micro-batch's gradients, downloaded, added to the step's on the host.
func addDownloaded(_ values: [Float], to host: inout [Float]) {
    host.withUnsafeMutableBufferPointer { host in
        for i in host.indices { host[i] += values[i] }
    }
}
