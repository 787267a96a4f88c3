import ListConRankerCUDA

/// The encoder's operations of ``TrainingBackend`` on the GPU (issue 30, stage 2), on the kernels
/// of `CUDATrainingKernelSource`: each computes what its CPU twin computes, in the same order where
/// that order is the whole result (the embedding sums and their scatter-add, mean pooling in
/// Double), so only the products and the attention's softmax round differently.
extension CUDATrainingBackend {
    func clear(_ x: Pointer, count: Int) throws {
        try written(x, "a cleared buffer")
        try module.launch("elementwise_zero", elements: count, [.address(x.address), .int64(count)])
    }

    func add(_ x: Pointer, _ y: Pointer, count: Int) throws {
        try written(x, "a sum's target")
        try module.launch("elementwise_add", elements: count, [.address(x.address), .address(y.address), .int64(count)])
    }

    func drawDropoutMask(_ mask: Pointer, count: Int, probability p: Float, seed: UInt64, stream: UInt64) throws {
        try Self.drawMask(mask, count: count, probability: p, seed: seed, stream: stream, module: module)
    }

    /// Each token's word id and position, uploaded for one embedding kernel.
    private func tokenTables(_ texts: [[Int32]]) throws -> (ids: CUDAFloatArray, positions: CUDAFloatArray, rows: Int) {
        let ids = texts.flatMap { $0 }
        let positions = texts.flatMap { text in text.indices.map { Int32($0) } }
        return (try device.upload(int32: ids), try device.upload(int32: positions), ids.count)
    }

    func embedTokens(sums: Pointer, words: Pointer, tokenType: Pointer, positions: Pointer, texts: [[Int32]],
                     width: Int) throws {
        let tables = try tokenTables(texts)
        try module.launch("embed_tokens", grid: (tables.rows, 1, 1), block: 256,
                          [.address(words.address), .address(tokenType.address), .address(positions.address),
                           .address(tables.ids.address), .address(tables.positions.address), .int32(Int32(width)),
                           .address(sums.address)])
    }

    /// The word and position tables' gradients one table row per GPU block row (each adding its
    /// tokens in the CPU's order), the token type's as a column sum over every token.
    func embedTokensBackward(dwords: Pointer, dtokenType: Pointer, dpositions: Pointer, dsums: Pointer,
                             texts: [[Int32]], width: Int) throws {
        try tableRowsBackward(table: dwords, dsums: dsums, keys: texts.flatMap { $0 }, width: width)
        try tableRowsBackward(table: dpositions, dsums: dsums, keys: texts.flatMap { text in text.indices.map { Int32($0) } },
                              width: width)
        try columnSums(dsums, rows: texts.reduce(0) { $0 + $1.count }, width: width, into: dtokenType)
    }

    /// `table[keys[r]] += dsums[r]` for every token r, grouped on the host by table row (the
    /// tokens of each row in order) so that the rows add in parallel without atomics.
    private func tableRowsBackward(table: Pointer, dsums: Pointer, keys: [Int32], width: Int) throws {
        guard let largest = keys.max() else { return }
        guard keys.allSatisfy({ $0 >= 0 }) else { throw TrainingError.invalidInput("a negative token id or position") }
        // A counting sort (linear: a step's 100k tokens in about a millisecond), stable: each key's
        // tokens stay in token order.
        var counts = [Int32](repeating: 0, count: Int(largest) + 1)
        for key in keys { counts[Int(key)] += 1 }
        var next = [Int32](repeating: 0, count: counts.count)             // where each key's next token goes
        var distinct: [Int32] = [], offsets: [Int32] = [], total: Int32 = 0
        for key in counts.indices where counts[key] > 0 {
            distinct.append(Int32(key))
            offsets.append(total)
            next[key] = total
            total += counts[key]
        }
        offsets.append(total)
        var rows = [Int32](repeating: 0, count: keys.count)
        for (row, key) in keys.enumerated() {
            rows[Int(next[Int(key)])] = Int32(row)
            next[Int(key)] += 1
        }
        let uploaded = (try device.upload(int32: distinct), try device.upload(int32: offsets), try device.upload(int32: rows))
        try module.launch("table_rows_backward", grid: (distinct.count, (width + 127) / 128, 1), block: 128,
                          [.address(dsums.address), .address(uploaded.0.address), .address(uploaded.1.address),
                           .address(uploaded.2.address), .int32(Int32(width)), .address(table.address)])
    }

    func encoderAttentionForward(context: Pointer?, probabilities: Pointer, mask: Pointer?, qkv: Pointer,
                                 segments: [Range<Int>], hidden: Int, heads: Int) throws {
        try attentionForward(context: context, rowLogSumExp: probabilities, mask: mask, qkv: qkv, segments: segments,
                             width: hidden, heads: heads, firstRowAlone: false)
    }

    func encoderAttentionBackward(dqkv: Pointer, dqkvWrite: GradientWrite, dcontext: Pointer, probabilities: Pointer,
                                  mask: Pointer?, qkv: Pointer, segments: [Range<Int>], hidden: Int, heads: Int) throws {
        try attentionBackward(dqkv: dqkv, dqkvWrite: dqkvWrite, dcontext: dcontext, rowLogSumExp: probabilities,
                              mask: mask, qkv: qkv, segments: segments, width: hidden, heads: heads, firstRowAlone: false)
    }

    func meanPoolForward(pooled: Pointer, hidden: Pointer, segments: [Range<Int>], width: Int) throws {
        let tables = try tables(segments)
        try module.launch("mean_pool", grid: ((width + 127) / 128, segments.count, 1), block: 128,
                          [.address(hidden.address), .address(tables.starts.address), .address(tables.lengths.address),
                           .int32(Int32(width)), .address(pooled.address)])
    }

    func meanPoolBackward(dhidden: Pointer, dpooled: Pointer, segments: [Range<Int>], width: Int) throws {
        let tables = try tables(segments)
        try module.launch("mean_pool_backward", grid: (segments.count, 1, 1), block: 256,
                          [.address(dpooled.address), .address(tables.starts.address), .address(tables.lengths.address),
                           .int32(Int32(width)), .address(dhidden.address)])
    }
}
