/// The encoder's operations of ``TrainingBackend`` on the CPU: the ops the encoder trainer ran
/// before it was written against the backend (``EncoderTokenOps``, ``EncoderAttentionOps``,
/// ``ElementOps``, ``Philox``), called unchanged so the CPU's results stay bit for bit the same.
extension CPUTrainingBackend {
    func clear(_ x: Pointer, count: Int) { x.update(repeating: 0, count: count) }
    func add(_ x: Pointer, _ y: Pointer, count: Int) { ElementOps.add(x, y, count: count) }

    func drawDropoutMask(_ mask: Pointer, count: Int, probability p: Float, seed: UInt64, stream: UInt64) {
        Philox.dropoutMask(mask, count: count, probability: p, seed: seed, stream: stream)
    }

    func embedTokens(sums: Pointer, words: Pointer, tokenType: Pointer, positions: Pointer, texts: [[Int32]],
                     width: Int) {
        EncoderTokenOps.embed(sums: sums, words: words, tokenType: tokenType, positions: positions, texts: texts,
                              width: width)
    }

    func embedTokensBackward(dwords: Pointer, dtokenType: Pointer, dpositions: Pointer, dsums: Pointer,
                             texts: [[Int32]], width: Int) {
        EncoderTokenOps.embedBackward(dwords: dwords, dtokenType: dtokenType, dpositions: dpositions, dsums: dsums,
                                      texts: texts, width: width)
    }

    func encoderAttentionForward(context: Pointer?, probabilities: Pointer, mask: Pointer?, qkv: Pointer,
                                 segments: [Range<Int>], hidden: Int, heads: Int) throws {
        try EncoderAttentionOps.forward(context: context, probabilities: probabilities, dropoutMask: mask, qkv: qkv,
                                        segments: segments, hidden: hidden, heads: heads)
    }

    /// `.replace` clears dqkv first: the CPU's op adds.
    func encoderAttentionBackward(dqkv: Pointer, dqkvWrite: GradientWrite, dcontext: Pointer, probabilities: Pointer,
                                  mask: Pointer?, qkv: Pointer, segments: [Range<Int>], hidden: Int, heads: Int) throws {
        if dqkvWrite == .replace { clear(dqkv, count: (segments.last?.upperBound ?? 0) * 3 * hidden) }
        try EncoderAttentionOps.backward(dqkv: dqkv, dcontext: dcontext, probabilities: probabilities,
                                         dropoutMask: mask, qkv: qkv, segments: segments, hidden: hidden, heads: heads)
    }

    func meanPoolForward(pooled: Pointer, hidden: Pointer, segments: [Range<Int>], width: Int) {
        EncoderTokenOps.meanPool(pooled: pooled, hidden: hidden, segments: segments, width: width)
    }

    func meanPoolBackward(dhidden: Pointer, dpooled: Pointer, segments: [Range<Int>], width: Int) {
        EncoderTokenOps.meanPoolBackward(dhidden: dhidden, dpooled: dpooled, segments: segments, width: width)
    }
}
