/// Mean-pooled encoder vectors for texts, encoded in batches of a bounded number of tokens:
/// the one place that turns texts into pooled vectors, for ``Reranker`` and ``TextEmbedder``.
///
/// Bounding the tokens per batch bounds the activations' memory on long lists; a text longer
/// than the budget is a batch of its own.
struct BatchedEncoder: Sendable {
    let encoder: BertEncoder
    let tokenizer: any TextTokenizing
    /// Longest text in tokens (`[CLS]` and `[SEP]` included); longer texts are truncated.
    let maxLength: Int
    /// Tokens per encoder batch (at least 1).
    let batchTokens: Int

    /// `[texts, hidden]`, one row per text in order. `statistics` counts the work.
    func pooled(_ texts: [String], statistics: inout EncoderStatistics) throws -> Tensor {
        let h = encoder.configuration.hiddenSize
        var rows = [Float]()
        rows.reserveCapacity(texts.count * h)
        var batch = [[Int32]]()
        var tokens = 0
        func flush() throws {
            guard !batch.isEmpty else { return }
            rows += try encoder.meanPooled(batch).scalars
            statistics.texts += batch.count
            statistics.batches += 1
            statistics.largestBatchTokens = max(statistics.largestBatchTokens, tokens)
            batch.removeAll(keepingCapacity: true)
            tokens = 0
        }
        for text in texts {
            let ids = tokenizer.tokenIDs(text, maxLength: maxLength)
            if tokens + ids.count > batchTokens { try flush() }
            batch.append(ids)
            tokens += ids.count
        }
        try flush()
        return Tensor(shape: [texts.count, h], scalars: rows)
    }

    /// ``pooled(_:statistics:)`` as one `[Float]` of `hidden` values per text: the form stores and
    /// embedding users take.
    func pooledRows(_ texts: [String], statistics: inout EncoderStatistics) throws -> [[Float]] {
        let h = encoder.configuration.hiddenSize
        let pooled = try pooled(texts, statistics: &statistics).scalars
        return (0..<texts.count).map { Array(pooled[$0 * h..<($0 + 1) * h]) }
    }
}
