extension EncoderNetwork {
    /// Runs the encoder on `texts` (token ids, `[CLS] … [SEP]`, already truncated) in training
    /// mode and keeps what the backward needs: every layer's activations, or with
    /// `recomputation` less of them (the backward then re-runs each layer's missing part first;
    /// the gradients are bitwise the same, see ``EncoderRecomputation``). Dropout masks (when
    /// ``dropout`` is on) come from `dropoutSeed`: the same seed gives the same masks.
    public func forward(_ texts: [[Int32]], parameters: EncoderParameters, dropoutSeed: UInt64 = 0,
                        recomputation: EncoderRecomputation = .none) throws -> EncoderForwardPass {
        try check(parameters.layout)
        let backend = CPUTrainingBackend()
        let pass = try activations(for: texts, dropoutSeed: dropoutSeed, recomputation: recomputation, backend: backend)
        try parameters.values.withUnsafeBufferPointer { buffer in
            guard let p = buffer.baseAddress else { return }
            try forward(pass, parameters: UnsafeMutablePointer(mutating: p), backend: backend)
        }
        return EncoderForwardPass(pass)
    }

    /// The buffers of a forward of `texts` on `backend` (the texts checked first).
    func activations<Backend: TrainingBackend>(for texts: [[Int32]], dropoutSeed: UInt64,
                                               recomputation: EncoderRecomputation,
                                               backend: Backend) throws -> EncoderActivations<Backend> {
        try EncoderActivations(texts: texts, segments: try segments(of: texts), shape: shape, dropout: dropout,
                               recomputation: recomputation, dropoutSeed: dropoutSeed, backend: backend)
    }

    /// The forward on any backend: `p` the parameters on its device, laid out by ``offsets``;
    /// fills `a` (its ``EncoderActivations/pooled`` vectors last).
    func forward<Backend: TrainingBackend>(_ a: EncoderActivations<Backend>, parameters p: Backend.Pointer,
                                           backend: Backend) throws {
        try embed(a, p, backend)
        let n = a.segments.last?.upperBound ?? 0
        if a.recomputation.recomputes {
            // One set of layer buffers, run between the kept inputs (with `.attention`, into
            // each layer's kept products); the last output only feeds pooling.
            let scratch = try layerScratch(a, backend: backend)
            for l in 0..<shape.layers {
                scratch.input = a.layerInputs[l]
                scratch.output = l + 1 < shape.layers ? a.layerInputs[l + 1] : try backend.scratch(n * shape.hidden)
                if a.recomputation == .attention { scratch.products = a.products[l] }
                try forwardLayer(scratch, index: l, p, segments: a.segments, seed: a.dropoutSeed, backend)
            }
            try backend.meanPoolForward(pooled: a.pooled.pointer, hidden: scratch.output.pointer, segments: a.segments,
                                        width: shape.hidden)
        } else {
            for (l, activations) in a.layers.enumerated() {
                try forwardLayer(activations, index: l, p, segments: a.segments, seed: a.dropoutSeed, backend)
            }
            try backend.meanPoolForward(pooled: a.pooled.pointer, hidden: a.layerInputs[shape.layers].pointer,
                                        segments: a.segments, width: shape.hidden)
        }
    }

    /// The buffers of one layer for `a`'s tokens, for recomputation; with `.attention` its
    /// products are lent by the pass, layer by layer.
    func layerScratch<Backend: TrainingBackend>(_ a: EncoderActivations<Backend>,
                                                backend: Backend) throws -> EncoderLayerActivations<Backend> {
        let n = a.segments.last?.upperBound ?? 0
        return try EncoderLayerActivations(input: a.layerInputs[0], output: try backend.scratch(n * shape.hidden),
                                           products: a.products.first, tokens: n, shape: shape,
                                           lengths: a.segments.map(\.count), dropout: dropout, backend: backend)
    }

    /// Layer 0's input = dropout(LayerNorm(word[id] + token_type[0] + position[i])), summed in
    /// the inference encoder's order.
    private func embed<Backend: TrainingBackend>(_ a: EncoderActivations<Backend>, _ p: Backend.Pointer,
                                                 _ backend: Backend) throws {
        let h = shape.hidden, o = offsets
        let rows = a.segments.last?.upperBound ?? 0
        try backend.embedTokens(sums: a.embeddingSum.pointer, words: p + o.words, tokenType: p + o.tokenTypes,
                                positions: p + o.positions, texts: a.texts, width: h)
        let output = a.layerInputs[0].pointer
        try backend.layerNormForward(y: output, mean: a.embeddingMean.pointer, rstd: a.embeddingRstd.pointer,
                                     x: a.embeddingSum.pointer, gamma: p + o.embeddingNorm.weight,
                                     beta: p + o.embeddingNorm.bias, rows: rows, width: h, eps: shape.layerNormEpsilon)
        if let mask = a.embeddingMask {
            try drawHiddenMask(mask, site: .embeddings, index: 0, seed: a.dropoutSeed, backend)
            try backend.multiply(output, by: mask.pointer, count: rows * h)
        }
    }

    /// One post-norm layer, `BertLayer` in training mode:
    /// `x1 = LN(x + dropout(dense(attention(x))))`, `out = LN(x1 + dropout(dense(GELU(dense(x1)))))`.
    /// Deterministic in its input and seed, which recomputation relies on.
    func forwardLayer<Backend: TrainingBackend>(_ l: EncoderLayerActivations<Backend>, index: Int,
                                                _ p: Backend.Pointer, segments: [Range<Int>], seed: UInt64,
                                                _ backend: Backend) throws {
        let n = segments.last?.upperBound ?? 0, h = shape.hidden, f = shape.intermediate
        let o = offsets.layers[index]
        // qkv[N, 3H] = x · [Wq; Wk; Wv]ᵀ + [bq; bk; bv]
        try backend.linearForward(y: l.qkv.pointer, x: l.input.pointer, w: p + o.qkv.weight, b: p + o.qkv.bias,
                                  rows: n, inFeatures: h, outFeatures: 3 * h)
        try attend(l, context: l.context.pointer, index: index, segments: segments, seed: seed, backend)
        // residual1[N, H] = x + dropout(context · Woᵀ + bo), normed1 = LN(residual1): its values, and
        // its copy for the products (kept with them)
        let normed1 = try backend.activation(l.normed1Values, copy: l.normed1Copy)
        try backend.linearForward(y: l.residual1.pointer, x: l.context.pointer, w: p + o.attentionOutput.weight,
                                  b: p + o.attentionOutput.bias, rows: n, inFeatures: h, outFeatures: h)
        try joinAndNormalize(branch: l.residual1, dropout: l.attentionMask, site: .attentionOutput,
                             residual: l.input.pointer, y: normed1, mean: l.mean1, rstd: l.rstd1, norm: o.attentionNorm,
                             index: index, p, seed: seed, rows: n, backend)
        // activated[N, F] = GELU(normed1 · Wiᵀ + bi)
        try backend.linearForward(y: l.preActivation.pointer, x: normed1, w: p + o.intermediate.weight,
                                  b: p + o.intermediate.bias, rows: n, inFeatures: h, outFeatures: f)
        try backend.geluForward(y: l.activated.pointer, x: l.preActivation.pointer, count: n * f)
        // residual2[N, H] = normed1 + dropout(activated · Wᵀ + b), out = LN(residual2)
        try backend.linearForward(y: l.residual2.pointer, x: l.activated.pointer, w: p + o.output.weight,
                                  b: p + o.output.bias, rows: n, inFeatures: f, outFeatures: h)
        try joinAndNormalize(branch: l.residual2, dropout: l.outputMask, site: .output, residual: normed1,
                             y: l.output.pointer, mean: l.mean2, rstd: l.rstd2, norm: o.outputNorm, index: index, p,
                             seed: seed, rows: n, backend)
    }

    /// Restores what ``EncoderRecomputation/attention`` did not keep of a layer, from its kept
    /// products, as the forward computed it: the attention probabilities and their dropout mask
    /// (scores and softmax again; the context is kept) and the two hidden dropout masks. None of the
    /// layer's weight products runs again, nor its first LayerNorm, whose output the backward reads
    /// only through its product copy, kept with the products. GELU is left to the backward, which
    /// re-runs it with its own backward in one pass over the pre-activation
    /// (``TrainingBackend/geluForwardBackward(y:dx:dy:x:rows:width:biasGradient:)``), which adds the
    /// intermediate bias's gradient too.
    func restoreFromProducts<Backend: TrainingBackend>(_ l: EncoderLayerActivations<Backend>, index: Int,
                                                       segments: [Range<Int>], seed: UInt64,
                                                       _ backend: Backend) throws {
        try attend(l, context: nil, index: index, segments: segments, seed: seed, backend)
        if let mask = l.attentionMask { try drawHiddenMask(mask, site: .attentionOutput, index: index, seed: seed, backend) }
        if let mask = l.outputMask { try drawHiddenMask(mask, site: .output, index: index, seed: seed, backend) }
    }

    /// The attention probabilities and their dropout mask from `l.qkv`, and with `context` the
    /// heads' outputs.
    private func attend<Backend: TrainingBackend>(_ l: EncoderLayerActivations<Backend>, context: Backend.Pointer?,
                                                  index: Int, segments: [Range<Int>], seed: UInt64,
                                                  _ backend: Backend) throws {
        if let mask = l.probabilityMask {
            try backend.drawDropoutMask(mask.pointer, count: mask.count, probability: dropout.attention, seed: seed,
                                        stream: Self.dropoutStream(site: .attentionProbabilities, layer: index))
        }
        try backend.encoderAttentionForward(context: context, probabilities: l.probabilities.pointer,
                                            mask: l.probabilityMask?.pointer, qkv: l.qkv.pointer, segments: segments,
                                            hidden: shape.hidden, heads: shape.heads)
    }

    /// `branch = residual + dropout(branch)` (the hidden dropout mask of `site` in layer `index` drawn and
    /// applied, or the residual alone without dropout), then `y = LN(branch)` with its statistics: one
    /// operation.
    private func joinAndNormalize<Backend: TrainingBackend>(branch: Backend.Buffer, dropout mask: Backend.Buffer?,
                                                            site: DropoutSite, residual: Backend.Pointer,
                                                            y: Backend.Pointer, mean: Backend.Buffer,
                                                            rstd: Backend.Buffer, norm: EncoderOffsets.Norm,
                                                            index: Int, _ p: Backend.Pointer, seed: UInt64, rows: Int,
                                                            _ backend: Backend) throws {
        if let mask { try drawHiddenMask(mask, site: site, index: index, seed: seed, backend) }
        try backend.layerNormForward(y: y, mean: mean.pointer, rstd: rstd.pointer, joining: branch.pointer,
                                     maskedBy: mask?.pointer, to: residual, gamma: p + norm.weight,
                                     beta: p + norm.bias, rows: rows, width: shape.hidden, eps: shape.layerNormEpsilon)
    }

    /// Draws the hidden dropout mask of `site` in layer `index` without applying it (the forward
    /// applies it; recomputation only needs it again for the backward).
    private func drawHiddenMask<Backend: TrainingBackend>(_ mask: Backend.Buffer, site: DropoutSite, index: Int,
                                                          seed: UInt64, _ backend: Backend) throws {
        try backend.drawDropoutMask(mask.pointer, count: mask.count, probability: dropout.hidden, seed: seed,
                                    stream: Self.dropoutStream(site: site, layer: index))
    }
}
