extension ListHeadNetwork {
    /// Runs the head on `batch` and keeps what the backward needs. With dropout on, masks are
    /// drawn from a generator seeded by `dropoutSeed` (the same seed gives the same masks).
    public func forward(_ batch: ListBatch, parameters: ListHeadParameters,
                        dropoutSeed: UInt64 = 0) throws -> ListHeadForwardPass {
        try check(batch, parameters.layout)
        let backend = CPUTrainingBackend()
        let pass = try ListHeadActivations(batch: batch, shape: shape, dropout: dropout, backend: backend)
        try parameters.values.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            try forward(pass, parameters: UnsafeMutablePointer(mutating: base), dropout: backend.dropout(seed: dropoutSeed),
                        backend: backend)
        }
        return ListHeadForwardPass(pass, batch: batch)
    }

    /// The forward on any backend: `p` the parameters on its device, laid out by ``offsets``.
    func forward<Backend: TrainingBackend>(_ a: ListHeadActivations<Backend>, parameters p: Backend.Pointer,
                                           dropout: Backend.Dropout, backend: Backend) throws {
        let segments = a.lists.segments
        let r = a.lists.rows, np = a.lists.passageCount
        let h = shape.hidden, w = shape.width, ff = shape.feedForward
        let o = offsets, eps = Self.layerNormEpsilon

        // f[R, W] = pooled[R, H] · W_inᵀ + b_in
        try backend.linearForward(y: a.f.pointer, x: a.pooled.pointer, w: p + o.inputEmbedding.weight,
                                  b: p + o.inputEmbedding.bias, rows: r, inFeatures: h, outFeatures: w)

        // tagged[R, W] = f + tag[t]: t = 1 on each list's query row, 0 on passages; then LayerNorm.
        try backend.addQueryTags(out: a.tagged.pointer, f: a.f.pointer, tags: p + o.tags, segments: segments, width: w)
        try backend.layerNormForward(y: a.layers[0].input.pointer, mean: a.tagMean.pointer, rstd: a.tagRstd.pointer,
                                     x: a.tagged.pointer, gamma: p + o.tagNorm.weight, beta: p + o.tagNorm.bias,
                                     rows: r, width: w, eps: eps)

        for (layer, l) in zip(o.layers, a.layers) {
            // Self-attention block: x1 = norm1(x + dropout1(out_proj(attention(in_proj(x))))).
            try backend.linearForward(y: l.qkv.pointer, x: l.input.pointer, w: p + layer.inProjection.weight,
                                      b: p + layer.inProjection.bias, rows: r, inFeatures: w, outFeatures: 3 * w)
            if let mask = l.attentionMask {
                try dropout.drawMask(mask.pointer, count: mask.count, probability: self.dropout)
            }
            try backend.listAttentionForward(context: l.context.pointer, probabilities: l.probabilities.pointer,
                                             mask: l.attentionMask?.pointer, qkv: l.qkv.pointer, segments: segments,
                                             width: w, heads: shape.heads)
            try backend.linearForward(y: l.residual1.pointer, x: l.context.pointer, w: p + layer.outProjection.weight,
                                      b: p + layer.outProjection.bias, rows: r, inFeatures: w, outFeatures: w)
            if let mask = l.attendedMask { try dropout.drawMask(mask.pointer, count: r * w, probability: self.dropout) }
            try backend.layerNormForward(y: l.normed1.pointer, mean: l.mean1.pointer, rstd: l.rstd1.pointer,
                                         joining: l.residual1.pointer, maskedBy: l.attendedMask?.pointer,
                                         to: l.input.pointer, gamma: p + layer.norm1.weight, beta: p + layer.norm1.bias,
                                         rows: r, width: w, eps: eps)

            // Feed-forward block: out = norm2(x1 + dropout2(linear2(dropout(GELU(linear1(x1)))))).
            try backend.linearForward(y: l.preActivation.pointer, x: l.normed1.pointer, w: p + layer.linear1.weight,
                                      b: p + layer.linear1.bias, rows: r, inFeatures: w, outFeatures: ff)
            try backend.geluForward(y: l.activated.pointer, x: l.preActivation.pointer, count: r * ff)
            if let mask = l.activatedMask {
                try dropout.drawMask(mask.pointer, count: r * ff, probability: self.dropout)
                try backend.multiply(l.activated.pointer, by: mask.pointer, count: r * ff)
            }
            try backend.linearForward(y: l.residual2.pointer, x: l.activated.pointer, w: p + layer.linear2.weight,
                                      b: p + layer.linear2.bias, rows: r, inFeatures: ff, outFeatures: w)
            if let mask = l.fedMask { try dropout.drawMask(mask.pointer, count: r * w, probability: self.dropout) }
            try backend.layerNormForward(y: l.output.pointer, mean: l.mean2.pointer, rstd: l.rstd2.pointer,
                                         joining: l.residual2.pointer, maskedBy: l.fedMask?.pointer,
                                         to: l.normed1.pointer, gamma: p + layer.norm2.weight, beta: p + layer.norm2.bias,
                                         rows: r, width: w, eps: eps)
        }

        // Score head: a = ReLU(linear_score2([f_0; f_i])), b = ReLU(linear_score3([g_0; g_i])),
        // logit = linear_score1([a; b]).
        let queryProducts = try backend.scratch(segments.count * w)    // [L, W] scratch
        try backend.splitQueryRows(rows: a.f.pointer, queries: a.queryFeatures.pointer,
                                   passages: a.passageFeatures.pointer, segments: segments, width: w)
        try backend.splitQueryRows(rows: a.transformerOutput.pointer, queries: a.queryOutputs.pointer,
                                   passages: a.passageOutputs.pointer, segments: segments, width: w)
        try backend.scorePairsForward(y: a.scorePre.pointer, queries: a.queryFeatures.pointer,
                                      passages: a.passageFeatures.pointer, queryProducts: queryProducts.pointer,
                                      w: p + o.score2.weight, b: p + o.score2.bias, segments: segments, width: w,
                                      outFeatures: w)
        try backend.scorePairsForward(y: a.scorePost.pointer, queries: a.queryOutputs.pointer,
                                      passages: a.passageOutputs.pointer, queryProducts: queryProducts.pointer,
                                      w: p + o.score3.weight, b: p + o.score3.bias, segments: segments, width: w,
                                      outFeatures: w)
        try backend.reluForward(y: a.joined.pointer, yStride: 2 * w, x: a.scorePre.pointer, xStride: w, rows: np,
                                width: w)
        try backend.reluForward(y: a.joined.pointer + w, yStride: 2 * w, x: a.scorePost.pointer, xStride: w, rows: np,
                                width: w)
        try backend.linearForward(y: a.logitBuffer.pointer, x: a.joined.pointer, w: p + o.score1.weight,
                                  b: p + o.score1.bias, rows: np, inFeatures: 2 * w, outFeatures: 1)
    }
}
