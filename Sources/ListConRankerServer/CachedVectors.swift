/// Pooled vectors of texts: from the vector cache where it has them, from the encoder for the
/// rest (../shared/DESIGN.md §9: a vector source, not another path through the model).
struct CachedVectors {
    let cache: VectorCache
    let metrics: ServiceMetrics

    /// One vector per text, in order. Each distinct text is looked up, counted (hit or miss) and
    /// encoded once; the missing ones go to the encoder in one call. Runs in the model's turn.
    ///
    /// - Parameter fill: keep the newly encoded vectors. The index route passes false: a bulk
    ///   load of passages that go to the store would flush the texts that clients repeat.
    func vectors(for texts: [String], engine: any PooledVectorEngine, fill: Bool = true) async throws -> [[Float]] {
        var distinct: [String] = []
        var positionOfText: [String: Int] = [:]
        let positions = texts.map { text -> Int in
            if let position = positionOfText[text] { return position }
            positionOfText[text] = distinct.count
            distinct.append(text)
            return distinct.count - 1
        }
        var vectors = cache.vectors(for: distinct)
        let missing = distinct.indices.filter { vectors[$0] == nil }
        metrics.vectorCacheHits.increment(by: Int64(distinct.count - missing.count))
        metrics.vectorCacheMisses.increment(by: Int64(missing.count))

        if !missing.isEmpty {
            let encoded = try await engine.pooledVectors(for: missing.map { distinct[$0] })
            guard encoded.count == missing.count, encoded.allSatisfy({ $0.count == engine.hiddenSize }) else {
                throw ServiceError(
                    status: .failedDependency, kind: .backend,
                    message: "The model returned \(encoded.count) vectors for \(missing.count) texts, "
                        + "or vectors of another length than its hidden size \(engine.hiddenSize)")
            }
            for (position, vector) in zip(missing, encoded) {
                vectors[position] = vector
                if fill { cache.insert(distinct[position], vector: vector) }
            }
            if fill {
                metrics.vectorCacheBytes.set(Double(cache.bytes))
                metrics.vectorCacheEntries.set(Double(cache.count))
            }
        }
        return positions.map { vectors[$0] ?? [] }
    }
}
