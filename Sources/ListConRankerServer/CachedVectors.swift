import ListConRanker

/// Pooled vectors of texts: from the vector cache where it has them, from the encoder for the
/// rest (../shared/DESIGN.md §9: a vector source, not another path through the model).
struct CachedVectors {
    let cache: VectorCache
    let metrics: ServiceMetrics

    /// One vector per text, in order: from the cache where it has them, from `engine` (in one
    /// call) for the rest. Runs in the model's turn.
    ///
    /// - Parameter fill: keep the newly encoded vectors. The index route passes false: a bulk
    ///   load of passages that go to the store would flush the texts that clients repeat.
    func vectors(for texts: [String], engine: any PooledVectorEngine, fill: Bool = true) async throws -> [[Float]] {
        let (passages, missing) = passages(for: texts)
        var encoded = [String: [Float]]()
        if !missing.isEmpty {
            let vectors = try await engine.pooledVectors(for: missing)
            guard vectors.count == missing.count, vectors.allSatisfy({ $0.count == engine.hiddenSize }) else {
                throw ServiceError(
                    status: .failedDependency, kind: .backend,
                    message: "The model returned \(vectors.count) vectors for \(missing.count) texts, "
                        + "or vectors of another length than its hidden size \(engine.hiddenSize)")
            }
            encoded = Dictionary(zip(missing, vectors), uniquingKeysWith: { first, _ in first })
            if fill { keep(missing, from: encoded) }
        }
        return passages.map { passage in
            switch passage {
            case .vector(let vector): return vector
            case .text(let text): return encoded[text] ?? []
            }
        }
    }

    /// Each text as a passage to score: its cached vector where the cache holds it, else the
    /// text itself, to be encoded. Each distinct text is looked up and counted (hit or miss)
    /// once; `missing` lists the distinct texts the cache did not hold, in order.
    func passages(for texts: [String]) -> (passages: [ScoringList.Passage], missing: [String]) {
        var distinct: [String] = []
        var positionOfText: [String: Int] = [:]
        let positions = texts.map { text -> Int in
            if let position = positionOfText[text] { return position }
            positionOfText[text] = distinct.count
            distinct.append(text)
            return distinct.count - 1
        }
        let vectors = cache.vectors(for: distinct)
        let missing = distinct.indices.filter { vectors[$0] == nil }.map { distinct[$0] }
        metrics.vectorCacheHits.increment(by: Int64(distinct.count - missing.count))
        metrics.vectorCacheMisses.increment(by: Int64(missing.count))
        let passages = positions.map { position in
            vectors[position].map(ScoringList.Passage.vector) ?? .text(distinct[position])
        }
        return (passages, missing)
    }

    /// Keeps in the cache the vectors the encoder made for the `missing` texts.
    func keep(_ missing: [String], from encoded: [String: [Float]]) {
        var kept = false
        for text in missing {
            guard let vector = encoded[text] else { continue }
            cache.insert(text, vector: vector)
            kept = true
        }
        if kept {
            metrics.vectorCacheBytes.set(Double(cache.bytes))
            metrics.vectorCacheEntries.set(Double(cache.count))
        }
    }
}
