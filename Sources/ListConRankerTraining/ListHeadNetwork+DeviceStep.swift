/// Where a device step of the list head gets the loss's gradient with respect to its logits.
enum HeadLossGradient<Backend: TrainingBackend> {
    /// Circle Loss on the device (``TrainingBackend/circleLoss(_:dlogits:losses:logits:relevant:segments:divisor:)``):
    /// each list's loss into `losses` (list after list), the gradient divided by `divisor` (the step's
    /// list count, so that its micro-batches add up to the mean's); `relevant` holds 1 on a relevant
    /// passage and 0 elsewhere. Nothing goes back to the host.
    case circleLoss(CircleLoss, relevant: Backend.Buffer, divisor: Int, losses: Backend.Pointer)
    /// A gradient known before the forward, on the device (fixed weights: the tests' loss).
    case given(Backend.Buffer)
}

extension ListHeadNetwork {
    /// One micro-batch of the head on `backend`'s device, the part stage 1 and stage 2 share:
    /// the forward of `lists` whose vectors `pooled` (`[rows, hidden]`) are on the device (masks of
    /// `dropoutSeed`), the loss's gradient as `loss` says, then the backward, adding the parameters'
    /// gradients to `gradients` and, when given, the pooled vectors' to `pooledGradients` (all on the
    /// device, so that the host enqueues the whole micro-batch without waiting for it). Returns the
    /// logits, on the device.
    func forwardAndBackward<Backend: TrainingBackend>(
        _ lists: ListRows, pooled: Backend.Buffer, parameters: Backend.Pointer, dropoutSeed: UInt64,
        gradients: Backend.Pointer, pooledGradients: Backend.Buffer?, backend: Backend, loss: HeadLossGradient<Backend>
    ) throws -> Backend.Buffer {
        let pass = try ListHeadActivations(lists: lists, pooled: pooled, shape: shape, dropout: dropout, backend: backend)
        try forward(pass, parameters: parameters, dropout: backend.dropout(seed: dropoutSeed), backend: backend)
        let dlogits: Backend.Buffer
        switch loss {
        case .given(let given):
            guard given.count == lists.passageCount else {
                throw TrainingError.invalidInput("\(given.count) logit gradients for \(lists.passageCount) logits")
            }
            dlogits = given
        case .circleLoss(let circle, let relevant, let divisor, let losses):
            guard relevant.count == lists.passageCount else {
                throw TrainingError.invalidInput("\(relevant.count) labels for \(lists.passageCount) logits")
            }
            dlogits = try backend.scratch(lists.passageCount)
            try backend.circleLoss(circle, dlogits: dlogits.pointer, losses: losses, logits: pass.logitBuffer.pointer,
                                   relevant: relevant.pointer, segments: lists.segments, divisor: divisor)
        }
        try backward(pass, logitGradients: dlogits, parameters: parameters, gradients: gradients,
                     pooled: pooledGradients, backend: backend)
        return pass.logitBuffer
    }
}
