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
