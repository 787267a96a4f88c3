// The CPU encoder's forward and backward as they were before they became generic over
// `TrainingBackend` (issue 30, stage 2), kept only here: `EncoderBackendSeamTests` checks that the
// generic pass on `CPUTrainingBackend` gives these results bit for bit. Renamed (`Legacy…`) so
// that both live in one test build; otherwise unchanged.
@testable import ListConRankerTraining

extension EncoderNetwork {
    /// Adds the gradients of a loss to `gradients`, given the loss's gradient with respect to
    /// the pooled vectors of `pass` (`[texts, H]`, row-major) and the `parameters` the forward
    /// used. Walks the forward in reverse, layer by layer (re-running first what the pass's
    /// ``LegacyForwardPass/recomputation`` left out of each layer). The word and position
    /// embeddings get gradient only in the rows the texts used; the token-type embedding only in row 0.
    ///
    /// `finished`, if given, is called as soon as a part's gradients are complete — each layer
    /// from the last down (its index), then the embeddings (-1) — with the gradients' base
    /// address, so a data-parallel trainer can start summing them across ranks while the
    /// layers below are still running (``EncoderParameterLayout/range(ofPart:)``).
    func legacyBackward(_ pass: LegacyForwardPass, pooledGradients: [Float], parameters: EncoderParameters,
                         gradients: inout EncoderGradients,
                         finished: ((_ part: Int, _ gradients: UnsafePointer<Float>) throws -> Void)? = nil) throws {
        try check(parameters.layout)
        guard gradients.layout == parameters.layout else {
            throw TrainingError.invalidInput("encoder gradients and parameters have different layouts")
        }
        guard pooledGradients.count == pass.texts.count * shape.hidden else {
            throw TrainingError.invalidInput("\(pooledGradients.count) pooled gradients for \(pass.texts.count) texts of \(shape.hidden)")
        }
        let kept = pass.recomputation.recomputes ? pass.layerInputs.count : pass.layers.count
        guard kept == shape.layers, pass.products.count == (pass.recomputation == .attention ? shape.layers : 0) else {
            throw TrainingError.invalidInput("a forward pass of another network")
        }
        try parameters.values.withUnsafeBufferPointer { parameterBuffer in
            try gradients.values.withUnsafeMutableBufferPointer { gradientBuffer in
                guard let p = parameterBuffer.baseAddress, let g = gradientBuffer.baseAddress else { return }
                try legacyBackwardAll(pass, FloatBuffer(pooledGradients), p, g, finished)
            }
        }
    }

    private func legacyBackwardAll(_ a: LegacyForwardPass, _ dpooled: FloatBuffer, _ p: UnsafePointer<Float>,
                          _ g: UnsafeMutablePointer<Float>,
                          _ finished: ((_ part: Int, _ gradients: UnsafePointer<Float>) throws -> Void)?) throws {
        let h = shape.hidden, segments = a.segments
        let n = segments.last?.upperBound ?? 0

        let buffers = LegacyGradientBuffers(tokens: n, shape: shape)
        // Mean pooling: every row of text t gets dpooled[t] / L_t (the last hidden states' gradient).
        for (t, segment) in segments.enumerated() {
            let source = dpooled.pointer + t * h, inverse = 1 / Float(segment.count)
            for row in segment {
                let target = buffers.doutput.pointer + row * h
                for j in 0..<h { target[j] = source[j] * inverse }
            }
        }

        let scratch = a.recomputation.recomputes ? legacy_layerScratch(a) : nil
        for l in stride(from: shape.layers - 1, through: 0, by: -1) {
            let activations: LegacyLayerActivations
            if let scratch {
                scratch.input = a.layerInputs[l]
                if a.recomputation == .attention {
                    scratch.products = a.products[l]
                    try legacy_restoreFromProducts(scratch, index: l, p, segments: segments, seed: a.dropoutSeed)
                } else {
                    try legacy_forwardLayer(scratch, index: l, p, segments: segments, seed: a.dropoutSeed)
                }
                activations = scratch
            } else {
                activations = a.layers[l]
            }
            try legacy_backwardLayer(activations, index: l, buffers, p, g, segments: segments)
            try finished?(l, g)
            buffers.descend()
        }
        legacy_backwardEmbeddings(a, buffers, p, g)
        try finished?(-1, g)
    }

    /// One layer in reverse: from `buffers.doutput`, the gradient of its output, to
    /// `buffers.dinput`, the gradient of its input.
    private func legacy_backwardLayer(_ l: LegacyLayerActivations, index: Int, _ buffers: LegacyGradientBuffers,
                               _ p: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>, segments: [Range<Int>]) throws {
        let n = segments.last?.upperBound ?? 0, h = shape.hidden, f = shape.intermediate
        let o = offsets.layers[index]
        buffers.zeroAccumulated()
        let doutput = buffers.doutput, dinput = buffers.dinput

        // out = LN(residual2), residual2 = normed1 + dropout(output.dense(activated)).
        let dresidual2 = buffers.dresidual2                           // [N, H]
        LayerNormOps.backward(dx: dresidual2.pointer, dgamma: g + o.outputNorm.weight, dbeta: g + o.outputNorm.bias,
                              dy: doutput.pointer, x: l.residual2.pointer, mean: l.mean2.pointer, rstd: l.rstd2.pointer,
                              gamma: p + o.outputNorm.weight, rows: n, width: h)
        let dnormed1 = buffers.dnormed1                               // [N, H] residual branch first
        dnormed1.pointer.update(from: dresidual2.pointer, count: n * h)
        if let mask = l.outputMask { ElementOps.multiply(dresidual2.pointer, by: mask.pointer, count: n * h) }
        let dactivated = buffers.dactivated                           // [N, F]
        try LinearOps.backward(dx: dactivated.pointer, dw: g + o.output.weight, db: g + o.output.bias,
                               dy: dresidual2.pointer, x: l.activated.pointer, w: p + o.output.weight,
                               rows: n, inFeatures: f, outFeatures: h)
        let dpreActivation = buffers.dpreActivation                   // [N, F]
        try ActivationOps.geluBackward(dx: dpreActivation.pointer, dy: dactivated.pointer, x: l.preActivation.pointer,
                                   count: n * f)
        try LinearOps.backward(dx: dnormed1.pointer, dw: g + o.intermediate.weight, db: g + o.intermediate.bias,
                               dy: dpreActivation.pointer, x: l.normed1.pointer, w: p + o.intermediate.weight,
                               rows: n, inFeatures: h, outFeatures: f)

        // normed1 = LN(residual1), residual1 = input + dropout(attention.output.dense(context)).
        let dresidual1 = buffers.dresidual1                           // [N, H]
        LayerNormOps.backward(dx: dresidual1.pointer, dgamma: g + o.attentionNorm.weight,
                              dbeta: g + o.attentionNorm.bias, dy: dnormed1.pointer, x: l.residual1.pointer,
                              mean: l.mean1.pointer, rstd: l.rstd1.pointer, gamma: p + o.attentionNorm.weight,
                              rows: n, width: h)
        dinput.pointer.update(from: dresidual1.pointer, count: n * h)
        if let mask = l.attentionMask { ElementOps.multiply(dresidual1.pointer, by: mask.pointer, count: n * h) }
        let dcontext = buffers.dcontext                               // [N, H]
        try LinearOps.backward(dx: dcontext.pointer, dw: g + o.attentionOutput.weight, db: g + o.attentionOutput.bias,
                               dy: dresidual1.pointer, x: l.context.pointer, w: p + o.attentionOutput.weight,
                               rows: n, inFeatures: h, outFeatures: h)
        let dqkv = buffers.dqkv                                       // [N, 3H]
        try EncoderAttentionOps.backward(dqkv: dqkv.pointer, dcontext: dcontext.pointer,
                                         probabilities: l.probabilities.pointer, dropoutMask: l.probabilityMask?.pointer,
                                         qkv: l.qkv.pointer, segments: segments, hidden: h, heads: shape.heads)
        try LinearOps.backward(dx: dinput.pointer, dw: g + o.qkv.weight, db: g + o.qkv.bias, dy: dqkv.pointer,
                               x: l.input.pointer, w: p + o.qkv.weight, rows: n, inFeatures: h, outFeatures: 3 * h)
    }

    /// Layer 0's input = dropout(LN(word[id] + token_type[0] + position[i])): the gradient of the
    /// sum is scattered (added) into the rows used, so a token that occurs twice gets both.
    /// `buffers.doutput` holds the gradient of layer 0's input.
    private func legacy_backwardEmbeddings(_ a: LegacyForwardPass, _ buffers: LegacyGradientBuffers,
                                    _ p: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>) {
        let h = shape.hidden, o = offsets
        let n = a.segments.last?.upperBound ?? 0
        let doutput = buffers.doutput
        if let mask = a.embeddingMask { ElementOps.multiply(doutput.pointer, by: mask.pointer, count: n * h) }
        let dsum = buffers.dresidual1                                 // [N, H], free after the layers
        dsum.zero()
        LayerNormOps.backward(dx: dsum.pointer, dgamma: g + o.embeddingNorm.weight, dbeta: g + o.embeddingNorm.bias,
                              dy: doutput.pointer, x: a.embeddingSum.pointer, mean: a.embeddingMean.pointer,
                              rstd: a.embeddingRstd.pointer, gamma: p + o.embeddingNorm.weight, rows: n, width: h)
        var row = 0
        for ids in a.texts {
            for (position, id) in ids.enumerated() {
                let source = dsum.pointer + row * h
                let word = g + o.words + Int(id) * h, type0 = g + o.tokenTypes, place = g + o.positions + position * h
                for j in 0..<h {
                    word[j] += source[j]
                    type0[j] += source[j]
                    place[j] += source[j]
                }
                row += 1
            }
        }
    }
}
