// The CPU encoder's forward and backward as they were before they became generic over
// `TrainingBackend` (issue 30, stage 2), kept only here: `EncoderBackendSeamTests` checks that the
// generic pass on `CPUTrainingBackend` gives these results bit for bit. Renamed (`Legacy…`) so
// that both live in one test build; otherwise unchanged.
@testable import ListConRankerTraining

extension EncoderNetwork {
    /// Runs the encoder on `texts` (token ids, `[CLS] … [SEP]`, already truncated) in training
    /// mode and keeps what the backward needs: every layer's activations, or with
    /// `recomputation` less of them (the backward then re-runs each layer's missing part first;
    /// the gradients are bitwise the same, see ``EncoderRecomputation``). Dropout masks (when
    /// ``dropout`` is on) come from `dropoutSeed`: the same seed gives the same masks.
    func legacyForward(_ texts: [[Int32]], parameters: EncoderParameters, dropoutSeed: UInt64 = 0,
                        recomputation: EncoderRecomputation = .none) throws -> LegacyForwardPass {
        try check(parameters.layout)
        let segments = try segments(of: texts)
        let pass = LegacyForwardPass(texts: texts, segments: segments, shape: shape, dropout: dropout,
                                      recomputation: recomputation, dropoutSeed: dropoutSeed)
        try parameters.values.withUnsafeBufferPointer { buffer in
            guard let p = buffer.baseAddress else { return }
            legacy_embed(pass, p)
            let n = segments.last?.upperBound ?? 0
            if recomputation.recomputes {
                // One set of layer buffers, run between the kept inputs (with `.attention`, into
                // each layer's kept products); the last output only feeds pooling.
                let scratch = legacy_layerScratch(pass)
                for l in 0..<shape.layers {
                    scratch.input = pass.layerInputs[l]
                    scratch.output = l + 1 < shape.layers ? pass.layerInputs[l + 1] : FloatBuffer(count: n * shape.hidden)
                    if recomputation == .attention { scratch.products = pass.products[l] }
                    try legacy_forwardLayer(scratch, index: l, p, segments: segments, seed: dropoutSeed)
                }
                legacy_pool(pass, hidden: scratch.output)
            } else {
                for (l, activations) in pass.layers.enumerated() {
                    try legacy_forwardLayer(activations, index: l, p, segments: segments, seed: dropoutSeed)
                }
                legacy_pool(pass, hidden: pass.layerInputs[shape.layers])
            }
        }
        return pass
    }

    /// The buffers of one layer for `pass`'s tokens, for recomputation; with `.attention` its
    /// products are lent by the pass, layer by layer.
    func legacy_layerScratch(_ pass: LegacyForwardPass) -> LegacyLayerActivations {
        let n = pass.segments.last?.upperBound ?? 0
        return LegacyLayerActivations(input: pass.layerInputs[0], output: FloatBuffer(count: n * shape.hidden),
                                       products: pass.products.first, tokens: n, shape: shape,
                                       probabilityCount: EncoderAttentionOps.probabilityCount(segments: pass.segments,
                                                                                              heads: shape.heads),
                                       dropout: dropout)
    }

    /// Layer 0's input = dropout(LayerNorm(word[id] + token_type[0] + position[i])), summed in
    /// the inference encoder's order.
    private func legacy_embed(_ a: LegacyForwardPass, _ p: UnsafePointer<Float>) {
        let h = shape.hidden, o = offsets
        var row = 0
        for ids in a.texts {
            for (position, id) in ids.enumerated() {
                let word = p + o.words + Int(id) * h, type0 = p + o.tokenTypes, place = p + o.positions + position * h
                let target = a.embeddingSum.pointer + row * h
                for j in 0..<h { target[j] = (word[j] + type0[j]) + place[j] }
                row += 1
            }
        }
        let output = a.layerInputs[0].pointer
        LayerNormOps.forward(y: output, mean: a.embeddingMean.pointer, rstd: a.embeddingRstd.pointer,
                             x: a.embeddingSum.pointer, gamma: p + o.embeddingNorm.weight, beta: p + o.embeddingNorm.bias,
                             rows: row, width: h, eps: shape.layerNormEpsilon)
        if let mask = a.embeddingMask {
            legacy_drawHiddenMask(mask, site: .embeddings, index: 0, seed: a.dropoutSeed)
            ElementOps.multiply(output, by: mask.pointer, count: row * h)
        }
    }

    /// One post-norm layer, `BertLayer` in training mode:
    /// `x1 = LN(x + dropout(dense(attention(x))))`, `out = LN(x1 + dropout(dense(GELU(dense(x1)))))`.
    /// Deterministic in its input and seed, which recomputation relies on.
    func legacy_forwardLayer(_ l: LegacyLayerActivations, index: Int, _ p: UnsafePointer<Float>, segments: [Range<Int>],
                      seed: UInt64) throws {
        let n = segments.last?.upperBound ?? 0, h = shape.hidden, f = shape.intermediate
        let o = offsets.layers[index], eps = shape.layerNormEpsilon
        // qkv[N, 3H] = x · [Wq; Wk; Wv]ᵀ + [bq; bk; bv]
        try LinearOps.forward(y: l.qkv.pointer, x: l.input.pointer, w: p + o.qkv.weight, b: p + o.qkv.bias,
                              rows: n, inFeatures: h, outFeatures: 3 * h)
        try legacy_attend(l, context: l.context.pointer, index: index, segments: segments, seed: seed)
        // residual1[N, H] = x + dropout(context · Woᵀ + bo)
        try LinearOps.forward(y: l.residual1.pointer, x: l.context.pointer, w: p + o.attentionOutput.weight,
                              b: p + o.attentionOutput.bias, rows: n, inFeatures: h, outFeatures: h)
        if let mask = l.attentionMask {
            legacy_drawHiddenMask(mask, site: .attentionOutput, index: index, seed: seed)
            ElementOps.multiply(l.residual1.pointer, by: mask.pointer, count: n * h)
        }
        ElementOps.add(l.residual1.pointer, l.input.pointer, count: n * h)
        legacy_normalizeAttentionOutput(l, index: index, p, rows: n)
        // activated[N, F] = GELU(normed1 · Wiᵀ + bi)
        try LinearOps.forward(y: l.preActivation.pointer, x: l.normed1.pointer, w: p + o.intermediate.weight,
                              b: p + o.intermediate.bias, rows: n, inFeatures: h, outFeatures: f)
        try ActivationOps.geluForward(y: l.activated.pointer, x: l.preActivation.pointer, count: n * f)
        // residual2[N, H] = normed1 + dropout(activated · Wᵀ + b)
        try LinearOps.forward(y: l.residual2.pointer, x: l.activated.pointer, w: p + o.output.weight,
                              b: p + o.output.bias, rows: n, inFeatures: f, outFeatures: h)
        if let mask = l.outputMask {
            legacy_drawHiddenMask(mask, site: .output, index: index, seed: seed)
            ElementOps.multiply(l.residual2.pointer, by: mask.pointer, count: n * h)
        }
        ElementOps.add(l.residual2.pointer, l.normed1.pointer, count: n * h)
        LayerNormOps.forward(y: l.output.pointer, mean: l.mean2.pointer, rstd: l.rstd2.pointer, x: l.residual2.pointer,
                             gamma: p + o.outputNorm.weight, beta: p + o.outputNorm.bias, rows: n, width: h, eps: eps)
    }

    /// Restores what ``EncoderRecomputation/attention`` did not keep of a layer, from its kept
    /// products, as the forward computed it: the attention probabilities and their dropout mask
    /// (scores and softmax again; the context is kept), the two hidden dropout masks, the first
    /// LayerNorm and GELU. None of the layer's weight products runs again.
    func legacy_restoreFromProducts(_ l: LegacyLayerActivations, index: Int, _ p: UnsafePointer<Float>,
                             segments: [Range<Int>], seed: UInt64) throws {
        let n = segments.last?.upperBound ?? 0
        try legacy_attend(l, context: nil, index: index, segments: segments, seed: seed)
        if let mask = l.attentionMask { legacy_drawHiddenMask(mask, site: .attentionOutput, index: index, seed: seed) }
        legacy_normalizeAttentionOutput(l, index: index, p, rows: n)
        try ActivationOps.geluForward(y: l.activated.pointer, x: l.preActivation.pointer, count: n * shape.intermediate)
        if let mask = l.outputMask { legacy_drawHiddenMask(mask, site: .output, index: index, seed: seed) }
    }

    /// The attention probabilities and their dropout mask from `l.qkv`, and with `context` the
    /// heads' outputs.
    private func legacy_attend(_ l: LegacyLayerActivations, context: UnsafeMutablePointer<Float>?, index: Int,
                        segments: [Range<Int>], seed: UInt64) throws {
        if let mask = l.probabilityMask {
            Philox.dropoutMask(mask.pointer, count: mask.count, probability: dropout.attention, seed: seed,
                               stream: Self.dropoutStream(site: .attentionProbabilities, layer: index))
        }
        try EncoderAttentionOps.forward(context: context, probabilities: l.probabilities.pointer,
                                        dropoutMask: l.probabilityMask?.pointer, qkv: l.qkv.pointer, segments: segments,
                                        hidden: shape.hidden, heads: shape.heads)
    }

    /// `normed1 = LN(residual1)`, with its statistics.
    private func legacy_normalizeAttentionOutput(_ l: LegacyLayerActivations, index: Int, _ p: UnsafePointer<Float>, rows: Int) {
        let o = offsets.layers[index]
        LayerNormOps.forward(y: l.normed1.pointer, mean: l.mean1.pointer, rstd: l.rstd1.pointer, x: l.residual1.pointer,
                             gamma: p + o.attentionNorm.weight, beta: p + o.attentionNorm.bias, rows: rows,
                             width: shape.hidden, eps: shape.layerNormEpsilon)
    }

    /// Draws the hidden dropout mask of `site` in layer `index` without applying it (the forward
    /// applies it; recomputation only needs it again for the backward).
    private func legacy_drawHiddenMask(_ mask: FloatBuffer, site: DropoutSite, index: Int, seed: UInt64) {
        Philox.dropoutMask(mask.pointer, count: mask.count, probability: dropout.hidden, seed: seed,
                           stream: Self.dropoutStream(site: site, layer: index))
    }

    /// pooled[t] = mean of text t's rows of `hidden` (summed in Double: texts can be 512 rows).
    private func legacy_pool(_ a: LegacyForwardPass, hidden: FloatBuffer) {
        let h = shape.hidden
        var sums = [Double](repeating: 0, count: h)
        for (t, segment) in a.segments.enumerated() {
            for j in 0..<h { sums[j] = 0 }
            for row in segment {
                let source = hidden.pointer + row * h
                for j in 0..<h { sums[j] += Double(source[j]) }
            }
            let target = a.pooledBuffer.pointer + t * h
            for j in 0..<h { target[j] = Float(sums[j] / Double(segment.count)) }
        }
    }
}
