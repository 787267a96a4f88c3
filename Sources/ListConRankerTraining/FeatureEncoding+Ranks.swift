import Foundation
import ListConRanker
import ListConRankerDistributed

extension FeatureEncoding {
    /// Stage 1's feature encoding over the ranks of a job: each text missing from *any* rank's
    /// cache is encoded once, by one rank (its share of each chunk), and every rank's cache ends
    /// up holding it. Returns each rank's cache (reopened from disk where another rank wrote it)
    /// and how many texts were encoded. With one process this is ``encodeMissing(_:cache:encoderDirectory:maxLength:precision:device:chunk:progress:)``.
    ///
    /// Writing: rank 0 appends each chunk as it is gathered (a killed job keeps what was
    /// written). Then the other ranks take turns: each reopens its cache and appends what it
    /// still lacks — nothing where the cache folder is shared with rank 0 (one host, or a shared
    /// file system), everything on a host of its own. Turns, because ranks that share a folder
    /// must not write it at once; the cache itself is not changed for this.
    public static func encodeMissing(_ samples: [RerankingSample], root: URL, identity: EncoderIdentity, hidden: Int,
                                     encoderDirectory: URL, maxLength: Int, precision: Precision,
                                     device: Device = .cpu, communicator: Communicator, chunk: Int = 64,
                                     onWaitingForLock: ((String) -> Void)? = nil,
                                     progress: ((Int, Int) -> Void)? = nil) throws -> (cache: FeatureCache, encoded: Int) {
        // Another run (or rank) writing the same cache folder holds its lock: say so while waiting.
        func opened() throws -> FeatureCache {
            let cache = try FeatureCache(root: root, identity: identity, hidden: hidden)
            if let onWaitingForLock {
                cache.onWaitingForLock = { [path = cache.directory.path] in onWaitingForLock(path) }
            }
            return cache
        }
        var cache = try opened()
        guard communicator.isDistributed else {
            let encoded = try encodeMissing(samples, cache: cache, encoderDirectory: encoderDirectory, maxLength: maxLength,
                                            precision: precision, device: device, chunk: chunk, progress: progress)
            return (cache, encoded)
        }
        // The distinct texts in order of first appearance: the same list on every rank.
        var seen = Set<String>()
        var texts: [(key: String, text: String)] = []
        for sample in samples {
            for text in [sample.query] + sample.positives + sample.negatives {
                let key = FeatureCache.key(text)
                if seen.insert(key).inserted { texts.append((key, text)) }
            }
        }
        // Missing anywhere: a text one rank's cache lacks is encoded for all.
        var flags = texts.map { cache.row(forKey: $0.key) == nil ? 1.0 : 0.0 }
        try communicator.maximum(&flags)
        let missing = texts.indices.filter { flags[$0] > 0 }.map { texts[$0] }
        guard !missing.isEmpty else { return (cache, 0) }

        var embedder: TextEmbedder?
        func embed(_ part: ArraySlice<(key: String, text: String)>) throws -> [[Float]] {
            guard !part.isEmpty else { return [] }
            if embedder == nil {
                do {
                    embedder = try TextEmbedder(modelDirectory: encoderDirectory, precision: precision, maxLength: maxLength,
                                                device: device)
                } catch {
                    throw TrainingError.badWeights("\(encoderDirectory.path): cannot load the encoder: \(error)")
                }
            }
            do { return try embedder!.embeddings(for: part.map(\.text)) } catch {
                throw TrainingError.computeFailed("encoding texts: \(error)")
            }
        }

        let step = max(chunk, 1) * communicator.size
        var kept: [(key: String, vector: [Float])] = []
        progress?(0, missing.count)
        for start in stride(from: 0, to: missing.count, by: step) {
            let part = missing[start..<min(start + step, missing.count)]
            let mine = communicator.share(of: part.count)
            let encoded = try embed(part[(part.startIndex + mine.lowerBound)..<(part.startIndex + mine.upperBound)])
            let gathered = try communicator.allGather(encoded.flatMap { $0 })
            let flat = gathered.flatMap { $0 }
            guard flat.count == part.count * hidden else {
                throw TrainingError.computeFailed("gathered \(flat.count) feature values for \(part.count) texts of width \(hidden)")
            }
            let entries = part.enumerated().map { offset, text in
                (key: text.key, vector: Array(flat[offset * hidden..<(offset + 1) * hidden]))
            }
            if communicator.isRoot { try cache.append(entries) } else { kept += entries }
            progress?(start + part.count, missing.count)
        }
        try communicator.barrier()
        for turn in 1..<communicator.size {
            if communicator.rank == turn {
                cache = try opened()
                try cache.append(kept.filter { cache.row(forKey: $0.key) == nil })
            }
            try communicator.barrier()
        }
        return (cache, missing.count)
    }
}
