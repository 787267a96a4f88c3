/// The score head's pairing of each list's query row with each of its passage rows:
/// `[row_0 ; row_i]`, forward (gather) and backward (scatter-add).
enum ScorePairs {
    /// `pairs[P, 2W]`: for every passage row i of every list, its query row then row i.
    static func gather(pairs: UnsafeMutablePointer<Float>, rows: UnsafePointer<Float>, segments: [Range<Int>],
                       width w: Int) {
        var i = 0
        for segment in segments {
            let query = rows + segment.lowerBound * w
            for row in segment.dropFirst() {
                (pairs + i * 2 * w).update(from: query, count: w)
                (pairs + i * 2 * w + w).update(from: rows + row * w, count: w)
                i += 1
            }
        }
    }

    /// `drows += ` the pairs' gradients sent back: each pair's first half to its list's query
    /// row (which so collects the gradient of every passage of its list), the second half to
    /// the passage row.
    static func scatter(drows: UnsafeMutablePointer<Float>, dpairs: UnsafePointer<Float>, segments: [Range<Int>],
                        width w: Int) {
        var i = 0
        for segment in segments {
            let query = drows + segment.lowerBound * w
            for row in segment.dropFirst() {
                let pair = dpairs + i * 2 * w, passage = drows + row * w
                for j in 0..<w {
                    query[j] += pair[j]
                    passage[j] += pair[w + j]
                }
                i += 1
            }
        }
    }
}
