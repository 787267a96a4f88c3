import Foundation
import ListConRanker
import ListConRankerDistributed

/// Dev-set MAP and MRR@10 of a list head: each scorable sample scored as one list (the head in
/// fp32, dropout off), the metrics from the project's ``RerankingEvaluator``. The pooled vectors
/// come from a ``PooledVectors`` source: the feature cache in stage 1, the encoder being trained
/// (run through the inference ``BertEncoder``) in stage 2.
struct HeadEvaluator {
    /// The mean-pooled vectors of a list's texts, `[texts, hidden]` row after row.
    typealias PooledVectors = ([String]) throws -> [Float]

    let dataset: RerankingDataset
    let hidden: Int

    /// Throws if a dev text is not in the cache (the trainer encodes them first).
    static func cached(dataset: RerankingDataset, cache: FeatureCache) throws -> (HeadEvaluator, PooledVectors) {
        var rows: [String: Int] = [:]
        for sample in dataset.samples {
            for text in [sample.query] + sample.positives + sample.negatives where rows[text] == nil {
                guard let row = cache.row(forKey: FeatureCache.key(text)) else {
                    throw TrainingError.invalidInput("dev text not in the feature cache: \(text.prefix(40))")
                }
                rows[text] = row
            }
        }
        let vectors: PooledVectors = { texts in
            var pooled: [Float] = []
            for text in texts {
                guard let row = rows[text] else { throw TrainingError.invalidInput("text not cached: \(text.prefix(40))") }
                cache.append(row: row, to: &pooled)
            }
            return pooled
        }
        return (HeadEvaluator(dataset: dataset, hidden: cache.hidden), vectors)
    }

    /// The metrics of `parameters` on the dev set. With several ranks each scores its share of
    /// the lists and every rank gets all scores, so the metrics are one process's exactly.
    func evaluate(_ parameters: ListHeadParameters, vectors: PooledVectors,
                  communicator: Communicator = .single) throws -> RerankingMetrics {
        let network = try ListHeadNetwork(layout: parameters.layout, dropout: 0)
        let evaluator = RerankingEvaluator(dataset: dataset, taskName: "dev", split: "dev", mode: "conventional",
                                           precision: "fp32")
        func score(_ query: String, _ passages: [String]) throws -> [Float] {
            let batch = try ListBatch(pooled: try vectors([query] + passages), hidden: hidden,
                                      listLengths: [passages.count + 1])
            return try network.forward(batch, parameters: parameters).scores
        }
        guard communicator.isDistributed else {
            return try evaluator.run(scorer: score, progress: .none).metrics
        }
        let scorable = dataset.samples.filter(\.isScorable)
        let scores = try communicator.shared(scorable.count) { try score(scorable[$0].query, scorable[$0].passages) }
        // The evaluator asks for the lists in the same order; it gets the gathered scores.
        var next = 0
        return try evaluator.run(scorer: { _, _ in
            defer { next += 1 }
            guard next < scores.count else { throw TrainingError.invalidInput("more dev lists than were scored") }
            return scores[next]
        }, progress: .none).metrics
    }
}
