import Foundation

/// ListConRanker's iterative inference (../shared/DESIGN.md §1.2), over passage positions.
///
/// While more than `threshold` passages remain, the list `[query] + remaining` is scored; the
/// `max(⌈20%⌉, 10)` lowest leave, together with every passage tied with the last of them, and
/// each leaver keeps `score + round`. The survivors (at most `threshold`) are scored once more
/// and keep `score + round`. Scores only order passages; they are not probabilities.
///
/// `scoreList` receives the positions still in play (in the order the original would list
/// them) and returns their probabilities in that order. Since a text's encoder output does not
/// depend on its list, callers encode each text once and rerun only the list head per round.
public enum IterativeInference {
    /// Lists of more passages than this are scored iteratively (the original's 20).
    public static let threshold = 20

    /// Whether a list of `passageCount` passages is long enough for iterative inference.
    public static func applies(toPassageCount passageCount: Int) -> Bool { passageCount > threshold }

    /// Final scores, in passage order, for `passageCount` passages; see the type's description.
    public static func scores(passageCount: Int, scoreList: ([Int]) throws -> [Float]) throws -> [Float] {
        var final = [Float](repeating: 0, count: passageCount)
        var remaining = Array(0..<passageCount)
        var round = 0
        while remaining.count > threshold {
            let scores = try scoreList(remaining)
            // Ascending by score; equal scores keep list order (which ones tie is what matters).
            let order = remaining.indices.sorted { (scores[$0], $0) < (scores[$1], $1) }
            let k = max(Int((Double(remaining.count) * 0.2).rounded(.up)), 10)
            var leaving = k
            while leaving < order.count, scores[order[leaving - 1]] == scores[order[leaving]] {
                leaving += 1
            }
            for j in 0..<leaving {
                final[remaining[order[j]]] = scores[order[j]] + Float(round)
            }
            // Survivors in ascending-score order, as the original lists them next round.
            remaining = order[leaving...].map { remaining[$0] }
            round += 1
        }
        if !remaining.isEmpty {
            let scores = try scoreList(remaining)
            for (j, position) in remaining.enumerated() {
                final[position] = scores[j] + Float(round)
            }
        }
        return final
    }
}
