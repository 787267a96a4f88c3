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
        try parameters.values.withUnsafeBufferPointer { parameterBuffer in
            try gradients.values.withUnsafeMutableBufferPointer { gradientBuffer in
                guard let p = parameterBuffer.baseAddress, let g = gradientBuffer.baseAddress else { return }
                try backward(pass, FloatBuffer(logitGradients), p, g, dpooled)
            }
        }
    }

    private func backward(_ a: ListHeadForwardPass, _ dlogits: FloatBuffer, _ p: UnsafePointer<Float>,
                          _ g: UnsafeMutablePointer<Float>, _ dpooled: FloatBuffer?) throws {
        let batch = a.batch, segments = batch.segments
        let r = batch.rows, np = batch.passageCount
        let h = shape.hidden, w = shape.width, ff = shape.feedForward
        let o = offsets

        // Score head, in reverse: logit = linear_score1([ReLU(pre); ReLU(post)]).
        let djoined = FloatBuffer(count: np * 2 * w)                 // [P, 2W]
        try LinearOps.backward(dx: djoined.pointer, dw: g + o.score1.weight, db: g + o.score1.bias,
                               dy: dlogits.pointer, x: a.joined.pointer, w: p + o.score1.weight,
                               rows: np, inFeatures: 2 * w, outFeatures: 1)
        let dscorePre = FloatBuffer(count: np * w), dscorePost = FloatBuffer(count: np * w)   // [P, W]
        ParallelLoop.shares(np, minimumPerShare: 16) { passages in
            for i in passages {
                ActivationOps.reluBackward(dx: dscorePre.pointer + i * w, dy: djoined.pointer + i * 2 * w,
                                           x: a.scorePre.pointer + i * w, count: w)
                ActivationOps.reluBackward(dx: dscorePost.pointer + i * w, dy: djoined.pointer + i * 2 * w + w,
                                           x: a.scorePost.pointer + i * w, count: w)
            }
        }
        let df = FloatBuffer(count: r * w)                            // [R, W] gradient of f
        var doutput = FloatBuffer(count: r * w)                       // [R, W] gradient of g
        // Each score layer's gradient goes back to the rows it paired: f for linear_score2, g for
        // linear_score3.
        let dqueries = FloatBuffer(count: segments.count * w), dpassages = FloatBuffer(count: np * w)
        let querySums = FloatBuffer(count: segments.count * w)        // [L, W] scratch
        func scoreLayerBackward(_ layer: ListHeadOffsets.Linear, dy: FloatBuffer, queries: FloatBuffer,
                                passages: FloatBuffer, into drows: FloatBuffer) throws {
            try ScorePairs.backward(dqueries: dqueries.pointer, dpassages: dpassages.pointer, dw: g + layer.weight,
                                    db: g + layer.bias, dy: dy.pointer, querySums: querySums.pointer,
                                    queries: queries.pointer, passages: passages.pointer, w: p + layer.weight,
                                    segments: segments, width: w, outFeatures: w)
            ScorePairs.merge(drows: drows.pointer, dqueries: dqueries.pointer, dpassages: dpassages.pointer,
                             segments: segments, width: w)
        }
        try scoreLayerBackward(o.score2, dy: dscorePre, queries: a.queryFeatures, passages: a.passageFeatures, into: df)
        try scoreLayerBackward(o.score3, dy: dscorePost, queries: a.queryOutputs, passages: a.passageOutputs,
                               into: doutput)

        // Transformer layers, last first. `doutput` is the gradient of the layer's output.
        for (layer, l) in zip(o.layers, a.layers).reversed() {
            // out = norm2(residual2), residual2 = normed1 + dropout2(linear2(…)).
            let dresidual2 = FloatBuffer(count: r * w)
            LayerNormOps.backward(dx: dresidual2.pointer, dgamma: g + layer.norm2.weight, dbeta: g + layer.norm2.bias,
                                  dy: doutput.pointer, x: l.residual2.pointer, mean: l.mean2.pointer,
                                  rstd: l.rstd2.pointer, gamma: p + layer.norm2.weight, rows: r, width: w)
            let dnormed1 = FloatBuffer(count: r * w)
            dnormed1.pointer.update(from: dresidual2.pointer, count: r * w)
            if let mask = l.fedMask { DropoutOps.backward(dy: dresidual2.pointer, mask: mask.pointer, count: r * w) }
            let dactivated = FloatBuffer(count: r * ff)               // [R, F]
            try LinearOps.backward(dx: dactivated.pointer, dw: g + layer.linear2.weight, db: g + layer.linear2.bias,
                                   dy: dresidual2.pointer, x: l.activated.pointer, w: p + layer.linear2.weight,
                                   rows: r, inFeatures: ff, outFeatures: w)
            if let mask = l.activatedMask {
                DropoutOps.backward(dy: dactivated.pointer, mask: mask.pointer, count: r * ff)
            }
            let dpreActivation = FloatBuffer(count: r * ff)           // [R, F]
            try ActivationOps.geluBackward(dx: dpreActivation.pointer, dy: dactivated.pointer,
                                       x: l.preActivation.pointer, count: r * ff)
            try LinearOps.backward(dx: dnormed1.pointer, dw: g + layer.linear1.weight, db: g + layer.linear1.bias,
                                   dy: dpreActivation.pointer, x: l.normed1.pointer, w: p + layer.linear1.weight,
                                   rows: r, inFeatures: w, outFeatures: ff)

            // normed1 = norm1(residual1), residual1 = input + dropout1(out_proj(attention(in_proj(input)))).
            let dresidual1 = FloatBuffer(count: r * w)
            LayerNormOps.backward(dx: dresidual1.pointer, dgamma: g + layer.norm1.weight, dbeta: g + layer.norm1.bias,
                                  dy: dnormed1.pointer, x: l.residual1.pointer, mean: l.mean1.pointer,
                                  rstd: l.rstd1.pointer, gamma: p + layer.norm1.weight, rows: r, width: w)
            let dinput = FloatBuffer(count: r * w)
            dinput.pointer.update(from: dresidual1.pointer, count: r * w)
            if let mask = l.attendedMask { DropoutOps.backward(dy: dresidual1.pointer, mask: mask.pointer, count: r * w) }
            let dcontext = FloatBuffer(count: r * w)
            try LinearOps.backward(dx: dcontext.pointer, dw: g + layer.outProjection.weight,
                                   db: g + layer.outProjection.bias, dy: dresidual1.pointer, x: l.context.pointer,
                                   w: p + layer.outProjection.weight, rows: r, inFeatures: w, outFeatures: w)
            let dqkv = FloatBuffer(count: r * 3 * w)                  // [R, 3W]
            ListAttentionOps.backward(dqkv: dqkv.pointer, dcontext: dcontext.pointer,
                                      probabilities: l.probabilities.pointer, dropoutMask: l.attentionMask?.pointer,
                                      qkv: l.qkv.pointer, segments: segments, width: w, heads: shape.heads)
            try LinearOps.backward(dx: dinput.pointer, dw: g + layer.inProjection.weight,
                                   db: g + layer.inProjection.bias, dy: dqkv.pointer, x: l.input.pointer,
                                   w: p + layer.inProjection.weight, rows: r, inFeatures: w, outFeatures: 3 * w)
            doutput = dinput
        }

        // Layer 0's input = LayerNorm(f + tag[t]).
        let dtagged = FloatBuffer(count: r * w)
        LayerNormOps.backward(dx: dtagged.pointer, dgamma: g + o.tagNorm.weight, dbeta: g + o.tagNorm.bias,
                              dy: doutput.pointer, x: a.tagged.pointer, mean: a.tagMean.pointer,
                              rstd: a.tagRstd.pointer, gamma: p + o.tagNorm.weight, rows: r, width: w)
        // Split by column: each tag's gradient sums its rows in order.
        ParallelLoop.shares(w, minimumPerShare: 64) { columns in
            for segment in segments {
                for row in segment {
                    let dtag = g + o.tags + (row == segment.lowerBound ? w : 0)
                    let source = dtagged.pointer + row * w, target = df.pointer + row * w
                    for j in columns {
                        target[j] += source[j]
                        dtag[j] += source[j]
                    }
                }
            }
        }

        // f = linear_in_embedding(pooled); the pooled vectors are constants in stage 1.
        try LinearOps.backward(dx: dpooled?.pointer, dw: g + o.inputEmbedding.weight, db: g + o.inputEmbedding.bias,
                               dy: df.pointer, x: a.pooled.pointer, w: p + o.inputEmbedding.weight,
                               rows: r, inFeatures: h, outFeatures: w)
    }
}
