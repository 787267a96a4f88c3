import Foundation
import ListConRanker

/// Fills a ``FeatureCache`` with the frozen encoder's vectors of the texts it lacks, and maps
/// samples' texts to cache rows. The encoder is loaded only when some text is missing, so a
/// run whose texts are all cached never touches BERT.
public enum FeatureEncoding {
    /// A sample with its texts replaced by cache rows.
    public struct IndexedSample: Sendable, Equatable {
        /// The query's row.
        public let query: Int
        /// The positives' rows.
        public let positives: [Int]
        /// The negatives' rows.
        public let negatives: [Int]
    }

    /// Encodes the texts of `samples` missing from `cache` with the encoder of `encoderDirectory`
    /// (in chunks of `chunk` texts, the cache written after each, so a killed run keeps what it
    /// did) and returns how many texts were encoded. `progress` receives (done, total).
    ///
    /// The whole pass holds the cache's lock: a second run on the same encoder waits, then finds
    /// the texts the first encoded instead of encoding them again.
    @discardableResult
    public static func encodeMissing(_ samples: [RerankingSample], cache: FeatureCache, encoderDirectory: URL,
                                     maxLength: Int, precision: Precision, device: Device = .cpu, chunk: Int = 64,
                                     progress: ((Int, Int) -> Void)? = nil) throws -> Int {
        try cache.locked { cache in
            try encodeMissingLocked(samples, cache: cache, encoderDirectory: encoderDirectory, maxLength: maxLength,
                                    precision: precision, device: device, chunk: chunk, progress: progress)
        }
    }

    private static func encodeMissingLocked(_ samples: [RerankingSample], cache: FeatureCache, encoderDirectory: URL,
                                            maxLength: Int, precision: Precision, device: Device, chunk: Int,
                                            progress: ((Int, Int) -> Void)?) throws -> Int {
        var seen = Set<String>()
        var missing: [(key: String, text: String)] = []
        for sample in samples {
            for text in [sample.query] + sample.positives + sample.negatives {
                let key = FeatureCache.key(text)
                if cache.row(forKey: key) == nil, seen.insert(key).inserted { missing.append((key, text)) }
            }
        }
        guard !missing.isEmpty else { return 0 }
        let embedder: TextEmbedder
        do {
            embedder = try TextEmbedder(modelDirectory: encoderDirectory, precision: precision, maxLength: maxLength,
                                        device: device)
        } catch {
            throw TrainingError.badWeights("\(encoderDirectory.path): cannot load the encoder: \(error)")
        }
        var done = 0
        progress?(0, missing.count)
        for start in stride(from: 0, to: missing.count, by: max(chunk, 1)) {
            let part = missing[start..<min(start + max(chunk, 1), missing.count)]
            let vectors: [[Float]]
            do {
                vectors = try embedder.embeddings(for: part.map(\.text))
            } catch {
                throw TrainingError.computeFailed("encoding texts: \(error)")
            }
            try cache.append(zip(part, vectors).map { (key: $0.0.key, vector: $0.1) })
            done += part.count
            progress?(done, missing.count)
        }
        return missing.count
    }

    /// `samples` with every text replaced by its cache row; throws if one is not cached.
    public static func index(_ samples: [RerankingSample], in cache: FeatureCache) throws -> [IndexedSample] {
        func row(_ text: String) throws -> Int {
            guard let row = cache.row(forKey: FeatureCache.key(text)) else {
                throw TrainingError.invalidInput("text not in the feature cache: \(text.prefix(40))")
            }
            return row
        }
        return try samples.map { sample in
            IndexedSample(query: try row(sample.query), positives: try sample.positives.map(row),
                          negatives: try sample.negatives.map(row))
        }
    }
}
