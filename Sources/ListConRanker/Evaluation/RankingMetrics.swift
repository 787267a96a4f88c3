/// The per-list ranking metrics of C-MTEB reranking (../shared/DESIGN.md §1.3), computed in Double.
///
/// Both functions take one list: `relevant[i]` says whether candidate `i` is a positive,
/// `scores[i]` is its score (higher ranks first). The two arrays must have equal length.
public enum RankingMetrics {
    /// Average precision exactly as scikit-learn's `average_precision_score(relevant, scores)`.
    ///
    /// Candidates are walked from the highest score down; all candidates sharing a score form
    /// one threshold, and each threshold adds (recall gained) × (precision at that threshold).
    /// Ties therefore neither help nor hurt by their order in the list.
    ///
    /// - Returns: the AP in [0, 1], or nil when the list has no relevant candidate
    ///   (scikit-learn warns and has no meaningful value there; evaluation skips such lists).
    public static func averagePrecision(relevant: [Bool], scores: [Double]) -> Double? {
        precondition(relevant.count == scores.count, "averagePrecision: \(relevant.count) labels, \(scores.count) scores")
        let positiveCount = relevant.reduce(0) { $0 + ($1 ? 1 : 0) }
        guard positiveCount > 0 else { return nil }
        let order = descendingOrder(scores)
        let totalPositives = Double(positiveCount)
        var truePositives = 0
        var seen = 0
        var previousRecall = 0.0
        var sum = 0.0
        var position = 0
        while position < order.count {
            // Consume one whole group of equal scores: it is a single threshold.
            let thresholdScore = scores[order[position]]
            while position < order.count && scores[order[position]] == thresholdScore {
                if relevant[order[position]] { truePositives += 1 }
                seen += 1
                position += 1
            }
            let recall = Double(truePositives) / totalPositives
            let precision = Double(truePositives) / Double(seen)
            sum += (recall - previousRecall) * precision
            previousRecall = recall
        }
        return sum
    }

    /// Reciprocal rank cut at `cutoff`: 1 / rank of the first relevant candidate among the
    /// `cutoff` best, 0 when none of them is relevant.
    ///
    /// The ranking is a stable descending sort by score: candidates with equal scores keep
    /// their order in the list (so with positives listed first, ties favour positives, as
    /// in the reference evaluation).
    public static func reciprocalRank(relevant: [Bool], scores: [Double], cutoff: Int) -> Double {
        precondition(relevant.count == scores.count, "reciprocalRank: \(relevant.count) labels, \(scores.count) scores")
        precondition(cutoff >= 1, "reciprocalRank: cutoff \(cutoff) must be at least 1")
        for (rank, index) in descendingOrder(scores).prefix(cutoff).enumerated() where relevant[index] {
            return 1.0 / Double(rank + 1)
        }
        return 0
    }

    /// Indices sorted by descending score; equal scores keep their original order.
    static func descendingOrder(_ scores: [Double]) -> [Int] {
        // Swift's sort is stable (documented since Swift 5), but make the tie rule explicit
        // in the comparator so it cannot depend on that guarantee.
        scores.indices.sorted { a, b in
            scores[a] != scores[b] ? scores[a] > scores[b] : a < b
        }
    }
}
