extension ListHeadNetwork {
    /// Adds the gradients of a loss to `gradients`, given the loss's gradient with respect to
    /// each logit of `pass` (`[P]`, list after list) and the `parameters` the forward used.
    /// Walks the forward in reverse, op by op; the pooled inputs get no gradient (the encoder
    /// is frozen in stage 1).
    public func backward(_ pass: ListHeadForwardPass, logitGradients: [Float], parameters: ListHeadParameters,
                         gradients: inout ListHeadGradients) throws {
        try backward(pass, logitGradients: logitGradients, parameters: parameters, gradients: &gradients, pooled: nil)
    }

    /// As ``backward(_:logitGradients:parameters:gradients:)``, and returns the loss's gradient
    /// with respect to the pooled inputs, `[rows, hidden]` (stage 2 carries it on into the encoder).
    public func backwardToPooled(_ pass: ListHeadForwardPass, logitGradients: [Float], parameters: ListHeadParameters,
                                 gradients: inout ListHeadGradients) throws -> [Float] {
        let dpooled = FloatBuffer(count: pass.batch.rows * shape.hidden)
        try backward(pass, logitGradients: logitGradients, parameters: parameters, gradients: &gradients, pooled: dpooled)
        return dpooled.array
    }

    private func backward(_ pass: ListHeadForwardPass, logitGradients: [Float], parameters: ListHeadParameters,
                          gradients: inout ListHeadGradients, pooled dpooled: FloatBuffer?) throws {
        try check(pass.batch, parameters.layout)
        guard gradients.layout == parameters.layout else {
            throw TrainingError.invalidInput("gradients and parameters have different layouts")
        }
        guard logitGradients.count == pass.batch.passageCount else {
            throw TrainingError.invalidInput("\(logitGradients.count) logit gradients for \(pass.batch.passageCount) logits")
        }
        let backend = CPUTrainingBackend()
        try parameters.values.withUnsafeBufferPointer { parameterBuffer in
            try gradients.values.withUnsafeMutableBufferPointer { gradientBuffer in
                guard let p = parameterBuffer.baseAddress, let g = gradientBuffer.baseAddress else { return }
                try backward(pass.activations, logitGradients: FloatBuffer(logitGradients),
                             parameters: UnsafeMutablePointer(mutating: p), gradients: g, pooled: dpooled,
                             backend: backend)
            }
        }
    }

    /// The backward on any backend: `p` the parameters and `g` their gradients (added to) on its
    /// device, laid out by ``offsets``; `dpooled` receives the pooled inputs' gradient when given.
    func backward<Backend: TrainingBackend>(_ a: ListHeadActivations<Backend>, logitGradients dlogits: Backend.Buffer,
                                            parameters p: Backend.Pointer, gradients g: Backend.Pointer,
                                            pooled dpooled: Backend.Buffer?, backend: Backend) throws {
        let segments = a.lists.segments
        let r = a.lists.rows, np = a.lists.passageCount
        let h = shape.hidden, w = shape.width, ff = shape.feedForward
        let o = offsets

        // Score head, in reverse: logit = linear_score1([ReLU(pre); ReLU(post)]).
        let djoined = try backend.zeros(np * 2 * w)                   // [P, 2W]
        try backend.linearBackward(dx: djoined.pointer, dw: g + o.score1.weight, db: g + o.score1.bias,
                                   dy: dlogits.pointer, x: a.joined.pointer, w: p + o.score1.weight,
                                   rows: np, inFeatures: 2 * w, outFeatures: 1)
        let dscorePre = try backend.zeros(np * w), dscorePost = try backend.zeros(np * w)   // [P, W]
        try backend.reluBackward(dx: dscorePre.pointer, dxStride: w, dy: djoined.pointer, dyStride: 2 * w,
                                 x: a.scorePre.pointer, xStride: w, rows: np, width: w)
        try backend.reluBackward(dx: dscorePost.pointer, dxStride: w, dy: djoined.pointer + w, dyStride: 2 * w,
                                 x: a.scorePost.pointer, xStride: w, rows: np, width: w)
        let df = try backend.zeros(r * w)                             // [R, W] gradient of f
        var doutput = try backend.zeros(r * w)                        // [R, W] gradient of g
        // Each score layer's gradient goes back to the rows it paired: f for linear_score2, g for
        // linear_score3.
        let dqueries = try backend.zeros(segments.count * w), dpassages = try backend.zeros(np * w)
        let querySums = try backend.zeros(segments.count * w)         // [L, W] scratch
        func scoreLayerBackward(_ layer: ListHeadOffsets.Linear, dy: Backend.Buffer, queries: Backend.Buffer,
                                passages: Backend.Buffer, into drows: Backend.Buffer) throws {
            try backend.scorePairsBackward(dqueries: dqueries.pointer, dpassages: dpassages.pointer,
                                           dw: g + layer.weight, db: g + layer.bias, dy: dy.pointer,
                                           querySums: querySums.pointer, queries: queries.pointer,
                                           passages: passages.pointer, w: p + layer.weight, segments: segments,
                                           width: w, outFeatures: w)
            try backend.mergeQueryRows(drows: drows.pointer, dqueries: dqueries.pointer, dpassages: dpassages.pointer,
                                       segments: segments, width: w)
        }
        try scoreLayerBackward(o.score2, dy: dscorePre, queries: a.queryFeatures, passages: a.passageFeatures, into: df)
        try scoreLayerBackward(o.score3, dy: dscorePost, queries: a.queryOutputs, passages: a.passageOutputs,
                               into: doutput)

        // Transformer layers, last first. `doutput` is the gradient of the layer's output. With dropout,
        // `dbranch` takes each dropout branch's gradient in turn. The gradients only a linear layer's
        // backward reads (the branches', GELU's input gradient, dqkv) are product operands, as the
        // encoder's: bf16 where the products read bf16, their bias gradients summed over those values.
        let dbranch = a.layers.first?.fedMask == nil ? nil : try backend.productOperand(r * w)
        func masked(_ mask: Backend.Buffer?) -> (mask: Backend.Pointer, into: Backend.Pointer)? {
            guard let mask, let dbranch else { return nil }
            return (mask.pointer, dbranch.pointer)
        }
        for (layer, l) in zip(o.layers, a.layers).reversed() {
            // out = norm2(residual2), residual2 = normed1 + dropout2(linear2(…)): the residual's gradient
            // is norm2's input gradient as it is, linear2's the same masked.
            let dnormed1 = try backend.scratch(r * w)
            let dfed = try backend.residualLayerNormBackward(
                dx: dnormed1.pointer, branch: masked(l.fedMask),
                dgamma: g + layer.norm2.weight, dbeta: g + layer.norm2.bias, dy: doutput.pointer, x: l.residual2.pointer,
                mean: l.mean2.pointer, rstd: l.rstd2.pointer, gamma: p + layer.norm2.weight, rows: r, width: w)
            let dactivated = try backend.scratch(r * ff)              // [R, F]
            try backend.linearBackward(dx: dactivated.pointer, dxWrite: .replace, dw: g + layer.linear2.weight,
                                       db: g + layer.linear2.bias, dy: dfed, x: l.activated.pointer,
                                       w: p + layer.linear2.weight, rows: r, inFeatures: ff, outFeatures: w)
            if let mask = l.activatedMask {
                try backend.multiply(dactivated.pointer, by: mask.pointer, count: r * ff)
            }
            let dpreActivation = try backend.productOperand(r * ff)   // [R, F]
            try backend.geluBackward(dx: dpreActivation.pointer, dy: dactivated.pointer, x: l.preActivation.pointer,
                                     count: r * ff)
            try backend.linearBackward(dx: dnormed1.pointer, dw: g + layer.linear1.weight, db: g + layer.linear1.bias,
                                       dy: dpreActivation.pointer, x: l.normed1.pointer, w: p + layer.linear1.weight,
                                       rows: r, inFeatures: w, outFeatures: ff)

            // normed1 = norm1(residual1), residual1 = input + dropout1(out_proj(attention(in_proj(input)))).
            let dinput = try backend.scratch(r * w)
            let dattended = try backend.residualLayerNormBackward(
                dx: dinput.pointer, branch: masked(l.attendedMask),
                dgamma: g + layer.norm1.weight, dbeta: g + layer.norm1.bias, dy: dnormed1.pointer, x: l.residual1.pointer,
                mean: l.mean1.pointer, rstd: l.rstd1.pointer, gamma: p + layer.norm1.weight, rows: r, width: w)
            let dcontext = try backend.productOperand(r * w)          // only attention's products read it
            try backend.linearBackward(dx: dcontext.pointer, dxWrite: .replace, dw: g + layer.outProjection.weight,
                                       db: g + layer.outProjection.bias, dy: dattended, x: l.context.pointer,
                                       w: p + layer.outProjection.weight, rows: r, inFeatures: w, outFeatures: w)
            let dqkv = try backend.productOperand(r * 3 * w)          // [R, 3W]
            try backend.listAttentionBackward(dqkv: dqkv.pointer, dqkvWrite: .replace, dcontext: dcontext.pointer,
                                              probabilities: l.probabilities.pointer, mask: l.attentionMask?.pointer,
                                              qkv: l.qkv.pointer, segments: segments, width: w, heads: shape.heads)
            try backend.linearBackward(dx: dinput.pointer, dw: g + layer.inProjection.weight,
                                       db: g + layer.inProjection.bias, dy: dqkv.pointer, x: l.input.pointer,
                                       w: p + layer.inProjection.weight, rows: r, inFeatures: w, outFeatures: 3 * w)
            doutput = dinput
        }
        withExtendedLifetime(dbranch) {}

        // Layer 0's input = LayerNorm(f + tag[t]).
        let dtagged = try backend.scratch(r * w)
        try backend.layerNormBackward(dx: dtagged.pointer, dxWrite: .replace, dgamma: g + o.tagNorm.weight,
                                      dbeta: g + o.tagNorm.bias, dy: doutput.pointer, x: a.tagged.pointer,
                                      mean: a.tagMean.pointer, rstd: a.tagRstd.pointer, gamma: p + o.tagNorm.weight,
                                      rows: r, width: w)
        try backend.queryTagsBackward(df: df.pointer, dtags: g + o.tags, dout: dtagged.pointer, segments: segments,
                                      width: w)

        // f = linear_in_embedding(pooled); the pooled vectors are constants in stage 1.
        try backend.linearBackward(dx: dpooled?.pointer, dw: g + o.inputEmbedding.weight, db: g + o.inputEmbedding.bias,
                                   dy: df.pointer, x: a.pooled.pointer, w: p + o.inputEmbedding.weight,
                                   rows: r, inFeatures: h, outFeatures: w)
    }
}
