extension EncoderNetwork {
    /// Adds the gradients of a loss to `gradients`, given the loss's gradient with respect to
    /// the pooled vectors of `pass` (`[texts, H]`, row-major) and the `parameters` the forward
    /// used. Walks the forward in reverse, layer by layer (re-running first what the pass's
    /// ``EncoderForwardPass/recomputation`` left out of each layer). The word and position
    /// embeddings get gradient only in the rows the texts used; the token-type embedding only in row 0.
    ///
    /// `finished`, if given, is called as soon as a part's gradients are complete — each layer
    /// from the last down (its index), then the embeddings (-1) — with the gradients' base
    /// address, so a data-parallel trainer can start summing them across ranks while the
    /// layers below are still running (``EncoderParameterLayout/range(ofPart:)``).
    public func backward(_ pass: EncoderForwardPass, pooledGradients: [Float], parameters: EncoderParameters,
                         gradients: inout EncoderGradients,
                         finished: ((_ part: Int, _ gradients: UnsafePointer<Float>) throws -> Void)? = nil) throws {
        try check(parameters.layout)
        guard gradients.layout == parameters.layout else {
            throw TrainingError.invalidInput("encoder gradients and parameters have different layouts")
        }
        try check(pass.activations, pooledGradientCount: pooledGradients.count)
        let backend = CPUTrainingBackend()
        let dpooled = FloatBuffer(pooledGradients)
        try parameters.values.withUnsafeBufferPointer { parameterBuffer in
            try gradients.values.withUnsafeMutableBufferPointer { gradientBuffer in
                guard let p = parameterBuffer.baseAddress, let g = gradientBuffer.baseAddress else { return }
                try backward(pass.activations, pooledGradients: dpooled.pointer,
                             parameters: UnsafeMutablePointer(mutating: p), gradients: g, backend: backend,
                             finished: finished.map { report in { part in try report(part, UnsafePointer(g)) } })
            }
        }
        withExtendedLifetime(dpooled) {}
    }

    /// Checks that `a` came from this network's forward and that `count` pooled gradients fit it.
    func check<Backend: TrainingBackend>(_ a: EncoderActivations<Backend>, pooledGradientCount count: Int) throws {
        guard count == a.texts.count * shape.hidden else {
            throw TrainingError.invalidInput("\(count) pooled gradients for \(a.texts.count) texts of \(shape.hidden)")
        }
        let kept = a.recomputation.recomputes ? a.layerInputs.count : a.layers.count
        guard kept == shape.layers, a.products.count == (a.recomputation == .attention ? shape.layers : 0) else {
            throw TrainingError.invalidInput("a forward pass of another network")
        }
    }

    /// The backward on any backend: `p` the parameters and `g` the gradients (added to) on its
    /// device, `dpooled` the pooled vectors' gradient there; `finished` hears of each part whose
    /// gradients are complete (the layers from the last down, then -1 for the embeddings).
    func backward<Backend: TrainingBackend>(_ a: EncoderActivations<Backend>, pooledGradients dpooled: Backend.Pointer,
                                            parameters p: Backend.Pointer, gradients g: Backend.Pointer,
                                            backend: Backend, finished: ((_ part: Int) throws -> Void)?) throws {
        let h = shape.hidden, segments = a.segments
        let n = segments.last?.upperBound ?? 0

        let buffers = try EncoderLayerGradientBuffers(tokens: n, shape: shape, backend: backend)
        // Mean pooling: every row of text t gets dpooled[t] / L_t (the last hidden states' gradient).
        try backend.meanPoolBackward(dhidden: buffers.doutput.pointer, dpooled: dpooled, segments: segments, width: h)

        let scratch = a.recomputation.recomputes ? try layerScratch(a, backend: backend) : nil
        // Restored from its products, a layer's GELU output is left to its backward (geluPending).
        let geluPending = a.recomputation == .attention
        for l in stride(from: shape.layers - 1, through: 0, by: -1) {
            let activations: EncoderLayerActivations<Backend>
            if let scratch {
                scratch.input = a.layerInputs[l]
                if a.recomputation == .attention {
                    scratch.products = a.products[l]
                    try restoreFromProducts(scratch, index: l, segments: segments, seed: a.dropoutSeed, backend)
                } else {
                    try forwardLayer(scratch, index: l, p, segments: segments, seed: a.dropoutSeed, backend)
                }
                activations = scratch
            } else {
                activations = a.layers[l]
            }
            try backwardLayer(activations, index: l, buffers, p, g, segments: segments, geluPending: geluPending, backend)
            try finished?(l)
            buffers.descend()
        }
        try backwardEmbeddings(a, buffers, p, g, backend)
        try finished?(-1)
    }

    /// One layer in reverse: from `buffers.doutput`, the gradient of its output, to
    /// `buffers.dinput`, the gradient of its input. With `geluPending` the layer's GELU output is not
    /// there yet (``restoreFromProducts(_:index:segments:seed:_:)``): it is re-run with GELU's
    /// backward, after the output layer's input gradient and before its weight gradient, which reads it.
    private func backwardLayer<Backend: TrainingBackend>(_ l: EncoderLayerActivations<Backend>, index: Int,
                                                         _ buffers: EncoderLayerGradientBuffers<Backend>,
                                                         _ p: Backend.Pointer, _ g: Backend.Pointer,
                                                         segments: [Range<Int>], geluPending: Bool,
                                                         _ backend: Backend) throws {
        let n = segments.last?.upperBound ?? 0, h = shape.hidden, f = shape.intermediate
        let o = offsets.layers[index]
        let doutput = buffers.doutput, dinput = buffers.dinput

        // out = LN(residual2), residual2 = normed1 + dropout(output.dense(activated)): the residual
        // branch's gradient is LayerNorm's input gradient as it is, the dense layer's the same masked.
        let dnormed1 = buffers.dnormed1                               // [N, H]
        let dOutputDense = try backend.residualLayerNormBackward(
            dx: dnormed1.pointer, branch: l.outputMask.map { ($0.pointer, buffers.dbranch.pointer) },
            dgamma: g + o.outputNorm.weight, dbeta: g + o.outputNorm.bias, dy: doutput.pointer, x: l.residual2.pointer,
            mean: l.mean2.pointer, rstd: l.rstd2.pointer, gamma: p + o.outputNorm.weight, rows: n, width: h)
        let dactivated = buffers.dactivated                           // [N, F]
        let dpreActivation = buffers.dpreActivation                   // [N, F]
        if geluPending {
            try backend.linearBackward(dx: dactivated.pointer, dxWrite: .replace, dw: nil, db: nil, dy: dOutputDense,
                                       x: l.activated.pointer, w: p + o.output.weight, rows: n, inFeatures: f,
                                       outFeatures: h)
            // GELU's re-run, its backward and the intermediate bias's gradient, in one pass.
            try backend.geluForwardBackward(y: l.activated.pointer, dx: dpreActivation.pointer, dy: dactivated.pointer,
                                            x: l.preActivation.pointer, rows: n, width: f,
                                            biasGradient: g + o.intermediate.bias)
            try backend.linearBackward(dx: nil, dw: g + o.output.weight, db: g + o.output.bias, dy: dOutputDense,
                                       x: l.activated.pointer, w: p + o.output.weight, rows: n, inFeatures: f,
                                       outFeatures: h)
        } else {
            try backend.linearBackward(dx: dactivated.pointer, dxWrite: .replace, dw: g + o.output.weight,
                                       db: g + o.output.bias, dy: dOutputDense, x: l.activated.pointer,
                                       w: p + o.output.weight, rows: n, inFeatures: f, outFeatures: h)
            try backend.geluBackward(dx: dpreActivation.pointer, dy: dactivated.pointer, x: l.preActivation.pointer,
                                     count: n * f)
        }
        try backend.linearBackward(dx: dnormed1.pointer, dw: g + o.intermediate.weight,
                                   db: geluPending ? nil : g + o.intermediate.bias, dy: dpreActivation.pointer,
                                   x: l.normed1Copy.pointer, w: p + o.intermediate.weight, rows: n, inFeatures: h,
                                   outFeatures: f)

        // normed1 = LN(residual1), residual1 = input + dropout(attention.output.dense(context)).
        let dAttentionDense = try backend.residualLayerNormBackward(
            dx: dinput.pointer, branch: l.attentionMask.map { ($0.pointer, buffers.dbranch.pointer) },
            dgamma: g + o.attentionNorm.weight, dbeta: g + o.attentionNorm.bias, dy: dnormed1.pointer,
            x: l.residual1.pointer, mean: l.mean1.pointer, rstd: l.rstd1.pointer, gamma: p + o.attentionNorm.weight,
            rows: n, width: h)
        let dcontext = buffers.dcontext                               // [N, H]
        try backend.linearBackward(dx: dcontext.pointer, dxWrite: .replace, dw: g + o.attentionOutput.weight,
                                   db: g + o.attentionOutput.bias, dy: dAttentionDense, x: l.context.pointer,
                                   w: p + o.attentionOutput.weight, rows: n, inFeatures: h, outFeatures: h)
        let dqkv = buffers.dqkv                                       // [N, 3H]
        try backend.encoderAttentionBackward(dqkv: dqkv.pointer, dqkvWrite: .replace, dcontext: dcontext.pointer,
                                             probabilities: l.probabilities.pointer, mask: l.probabilityMask?.pointer,
                                             qkv: l.qkv.pointer, segments: segments, hidden: h, heads: shape.heads)
        try backend.linearBackward(dx: dinput.pointer, dw: g + o.qkv.weight, db: g + o.qkv.bias, dy: dqkv.pointer,
                                   x: l.input.pointer, w: p + o.qkv.weight, rows: n, inFeatures: h, outFeatures: 3 * h)
    }

    /// Layer 0's input = dropout(LN(word[id] + token_type[0] + position[i])): the gradient of the
    /// sum is scattered (added) into the rows used, so a token that occurs twice gets both.
    /// `buffers.doutput` holds the gradient of layer 0's input.
    private func backwardEmbeddings<Backend: TrainingBackend>(_ a: EncoderActivations<Backend>,
                                                              _ buffers: EncoderLayerGradientBuffers<Backend>,
                                                              _ p: Backend.Pointer, _ g: Backend.Pointer,
                                                              _ backend: Backend) throws {
        let h = shape.hidden, o = offsets
        let n = a.segments.last?.upperBound ?? 0
        let doutput = buffers.doutput
        if let mask = a.embeddingMask { try backend.multiply(doutput.pointer, by: mask.pointer, count: n * h) }
        let dsum = buffers.dnormed1                                   // [N, H], free after the layers
        try backend.layerNormBackward(dx: dsum.pointer, dxWrite: .replace, dgamma: g + o.embeddingNorm.weight,
                                      dbeta: g + o.embeddingNorm.bias, dy: doutput.pointer, x: a.embeddingSum.pointer,
                                      mean: a.embeddingMean.pointer, rstd: a.embeddingRstd.pointer,
                                      gamma: p + o.embeddingNorm.weight, rows: n, width: h)
        try backend.embedTokensBackward(dwords: g + o.words, dtokenType: g + o.tokenTypes, dpositions: g + o.positions,
                                        dsums: dsum.pointer, texts: a.texts, width: h)
    }
}
