import Foundation
import ListConRanker

/// Dev-set MAP and MRR@10 of a list head on cached features: each scorable sample scored as one
/// list (the head in fp32, dropout off), the metrics from the project's ``RerankingEvaluator``.
struct HeadEvaluator {
    let dataset: RerankingDataset
    let cache: FeatureCache
    private let rows: [String: Int]

    /// Throws if a dev text is not in the cache (the trainer encodes them first).
    init(dataset: RerankingDataset, cache: FeatureCache) throws {
        self.dataset = dataset
        self.cache = cache
        var rows: [String: Int] = [:]
        for sample in dataset.samples {
            for text in [sample.query] + sample.positives + sample.negatives where rows[text] == nil {
                guard let row = cache.row(forKey: FeatureCache.key(text)) else {
                    throw TrainingError.invalidInput("dev text not in the feature cache: \(text.prefix(40))")
                }
                rows[text] = row
            }
        }
        self.rows = rows
    }

    func evaluate(_ parameters: ListHeadParameters) throws -> RerankingMetrics {
        let network = try ListHeadNetwork(layout: parameters.layout, dropout: 0)
        let evaluator = RerankingEvaluator(dataset: dataset, taskName: "dev", split: "dev", mode: "conventional",
                                           precision: "fp32")
        let results = try evaluator.run(scorer: { query, passages in
            var pooled: [Float] = []
            for text in [query] + passages {
                guard let row = rows[text] else { throw TrainingError.invalidInput("text not cached: \(text.prefix(40))") }
                cache.append(row: row, to: &pooled)
            }
            let batch = try ListBatch(pooled: pooled, hidden: cache.hidden, listLengths: [passages.count + 1])
            return try network.forward(batch, parameters: parameters).scores
        }, progress: .none)
        return results.metrics
    }
}
