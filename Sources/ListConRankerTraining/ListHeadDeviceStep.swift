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
        let pass = try ListHeadActivations(batch: batch, shape: network.shape, dropout: network.dropout, backend: backend)
        try network.forward(pass, parameters: parameters.pointer, dropout: backend.dropout(seed: dropoutSeed),
                            backend: backend)
        let logits = try backend.download(pass.logitBuffer.pointer, count: batch.passageCount)
        let dlogits = try logitGradients(logits)
        guard dlogits.count == logits.count else {
            throw TrainingError.invalidInput("\(dlogits.count) logit gradients for \(logits.count) logits")
        }
        let deviceGradients = try backend.zeros(parameters.count)
        try network.backward(pass, logitGradients: try backend.upload(dlogits), parameters: parameters.pointer,
                             gradients: deviceGradients.pointer, pooled: nil, backend: backend)
        let values = try backend.download(deviceGradients.pointer, count: parameters.count)
        gradients.values.withUnsafeMutableBufferPointer { host in
            for i in host.indices { host[i] += values[i] }
        }
        return logits
    }
}
