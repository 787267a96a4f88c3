import ListConRanker

/// Draws the training lists: which queries form each step's batch, and which passages each
/// query's list holds. Every draw comes from ``RandomStreams`` keyed by (seed, epoch, query),
/// so a run repeats exactly and a resumed run draws what the killed one would have.
///
/// The rule (repeated by the Python reference): per epoch the usable queries are shuffled and
/// cut into batches in that order; a query's list in an epoch takes its positives shuffled,
/// the first `min(count, maxPositives)`, then its negatives shuffled, as many as fill
/// `listSize` (fewer when the query has fewer), and the list's order is shuffled again.
public struct ListSampler: Sendable {
    /// One sampled list: indices into the query's positives and negatives, in list order.
    public struct SampledList: Sendable, Equatable {
        /// The query's index among the usable samples.
        public let query: Int
        /// Each passage: (is positive, index into the sample's positives or negatives).
        public let passages: [(positive: Bool, index: Int)]

        /// Same query, same passages in the same order.
        public static func == (a: SampledList, b: SampledList) -> Bool {
            a.query == b.query && a.passages.map(\.positive) == b.passages.map(\.positive)
                && a.passages.map(\.index) == b.passages.map(\.index)
        }
    }

    /// The samples that can be trained on (each has a positive and a negative).
    public let samples: [RerankingSample]
    /// Passages per list.
    public let listSize: Int
    /// Most positives per list.
    public let maxPositives: Int
    /// Lists per step.
    public let batchSize: Int
    /// The run's seed.
    public let seed: UInt64

    /// A sampler over `samples` (each must have a positive and a negative).
    public init(samples: [RerankingSample], listSize: Int, maxPositives: Int, batchSize: Int, seed: UInt64) throws {
        guard samples.allSatisfy(\.isScorable), !samples.isEmpty else {
            throw TrainingError.invalidInput("the sampler needs samples that each have a positive and a negative")
        }
        guard listSize >= 2, maxPositives >= 1, batchSize >= 1 else {
            throw TrainingError.invalidInput("list size \(listSize) (≥ 2), max positives \(maxPositives), batch \(batchSize)")
        }
        self.samples = samples
        self.listSize = listSize
        self.maxPositives = maxPositives
        self.batchSize = batchSize
        self.seed = seed
    }

    /// Optimizer steps per epoch (the last batch may be smaller).
    public var stepsPerEpoch: Int { (samples.count + batchSize - 1) / batchSize }

    /// The queries of epoch `epoch` (0-based) in their shuffled order.
    public func order(epoch: Int) -> [Int] {
        var order = Array(samples.indices)
        var generator = RandomStreams.generator(seed, .epochOrder, UInt64(epoch))
        RandomStreams.shuffle(&order, using: &generator)
        return order
    }

    /// The lists of batch `batch` (0-based) of epoch `epoch`.
    public func batch(epoch: Int, batch: Int) -> [SampledList] {
        let order = order(epoch: epoch)
        let start = batch * batchSize
        guard start < order.count else { return [] }
        return order[start..<min(start + batchSize, order.count)].map { list(query: $0, epoch: epoch) }
    }

    /// The list query `query` gets in epoch `epoch`.
    public func list(query: Int, epoch: Int) -> SampledList {
        let sample = samples[query]
        var generator = RandomStreams.generator(seed, .listSampling, UInt64(epoch), UInt64(query))
        var positives = Array(sample.positives.indices)
        RandomStreams.shuffle(&positives, using: &generator)
        var negatives = Array(sample.negatives.indices)
        RandomStreams.shuffle(&negatives, using: &generator)
        let positiveCount = min(positives.count, maxPositives, listSize - 1)
        let negativeCount = min(negatives.count, listSize - positiveCount)
        var passages = positives.prefix(positiveCount).map { (positive: true, index: $0) }
            + negatives.prefix(negativeCount).map { (positive: false, index: $0) }
        RandomStreams.shuffle(&passages, using: &generator)
        return SampledList(query: query, passages: passages)
    }
}
