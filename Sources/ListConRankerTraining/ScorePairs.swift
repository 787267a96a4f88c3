/// The score head's linear layers on pairs `[row_0 ; row_i]` (each list's query row, then
/// passage row i), forward and backward, without building the pairs.
///
/// `linear([q ; x_i]) = W_q·q + W_x·x_i + b`, where `W_q` and `W_x` are the left and right halves
/// of the `[out, 2W]` weight. The query's half is computed once per list instead of once per
/// passage: for lists of 1 + 20 that is 21 rows of `W × W` products where the pairs took 40, so
/// the two score layers cost half as much (they are about a fifth of the head's products).
enum ScorePairs {
    /// The rows of `rows[R, W]` split by role: `queries[L, W]` (each list's first row) and
    /// `passages[P, W]` (the others, list after list).
    static func split(rows: UnsafePointer<Float>, queries: UnsafeMutablePointer<Float>,
                      passages: UnsafeMutablePointer<Float>, segments: [Range<Int>], width w: Int) {
        var i = 0
        for (list, segment) in segments.enumerated() {
            (queries + list * w).update(from: rows + segment.lowerBound * w, count: w)
            let count = segment.count - 1
            (passages + i * w).update(from: rows + (segment.lowerBound + 1) * w, count: count * w)
            i += count
        }
    }

    /// `y[P, out] = passages · W_xᵀ + (queries · W_qᵀ)[list of i] + b`, with `w` the `[out, 2W]`
    /// weight as stored. `queryProducts[L, out]` is scratch.
    static func forward(y: UnsafeMutablePointer<Float>, queries: UnsafePointer<Float>, passages: UnsafePointer<Float>,
                        queryProducts: UnsafeMutablePointer<Float>, w: UnsafePointer<Float>, b: UnsafePointer<Float>,
                        segments: [Range<Int>], width: Int, outFeatures: Int) throws {
        let lists = segments.count, passageCount = passageCount(segments)
        try LinearOps.sgemm(transA: false, transB: true, m: lists, n: outFeatures, k: width, a: queries, lda: width,
                            b: w, ldb: 2 * width, beta: 0, c: queryProducts, ldc: outFeatures)
        try LinearOps.sgemm(transA: false, transB: true, m: passageCount, n: outFeatures, k: width, a: passages,
                            lda: width, b: w + width, ldb: 2 * width, beta: 0, c: y, ldc: outFeatures)
        ParallelLoop.shares(lists, minimumPerShare: 4) { shareOfLists in
            for list in shareOfLists {
                let query = queryProducts + list * outFeatures
                for i in passageRows(of: list, segments) {
                    let row = y + i * outFeatures
                    for j in 0..<outFeatures { row[j] += query[j] + b[j] }
                }
            }
        }
    }

    /// Accumulates the gradients of ``forward`` given `dy[P, out]`: `dw` (`[out, 2W]`) and `db`
    /// (`[out]`) are added to; `dqueries[L, W]` and `dpassages[P, W]` are overwritten.
    /// `querySums[L, out]` is scratch (each list's Σ dy, the query half's output gradient).
    static func backward(dqueries: UnsafeMutablePointer<Float>, dpassages: UnsafeMutablePointer<Float>,
                         dw: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                         querySums: UnsafeMutablePointer<Float>, queries: UnsafePointer<Float>,
                         passages: UnsafePointer<Float>, w: UnsafePointer<Float>, segments: [Range<Int>],
                         width: Int, outFeatures: Int) throws {
        let lists = segments.count, passageCount = passageCount(segments)
        // Σ over each list's passages, split by output column (rows summed in order).
        ParallelLoop.shares(outFeatures, minimumPerShare: 64) { columns in
            var i = 0
            for (list, segment) in segments.enumerated() {
                let sum = querySums + list * outFeatures
                for j in columns { sum[j] = 0 }
                for _ in 1..<segment.count {
                    let row = dy + i * outFeatures
                    for j in columns {
                        sum[j] += row[j]
                        db[j] += row[j]
                    }
                    i += 1
                }
            }
        }
        // Passage half: dW_x += dyᵀ · passages, dpassages = dy · W_x.
        try LinearOps.sgemm(transA: true, transB: false, m: outFeatures, n: width, k: passageCount, a: dy,
                            lda: outFeatures, b: passages, ldb: width, beta: 1, c: dw + width, ldc: 2 * width)
        try LinearOps.sgemm(transA: false, transB: false, m: passageCount, n: width, k: outFeatures, a: dy,
                            lda: outFeatures, b: w + width, ldb: 2 * width, beta: 0, c: dpassages, ldc: width)
        // Query half: dW_q += sumsᵀ · queries, dqueries = sums · W_q.
        try LinearOps.sgemm(transA: true, transB: false, m: outFeatures, n: width, k: lists, a: querySums,
                            lda: outFeatures, b: queries, ldb: width, beta: 1, c: dw, ldc: 2 * width)
        try LinearOps.sgemm(transA: false, transB: false, m: lists, n: width, k: outFeatures, a: querySums,
                            lda: outFeatures, b: w, ldb: 2 * width, beta: 0, c: dqueries, ldc: width)
    }

    /// `drows[R, W] += ` the split gradients put back on their rows (the inverse of ``split``).
    static func merge(drows: UnsafeMutablePointer<Float>, dqueries: UnsafePointer<Float>,
                      dpassages: UnsafePointer<Float>, segments: [Range<Int>], width w: Int) {
        ParallelLoop.shares(segments.count, minimumPerShare: 4) { lists in
            for list in lists {
                let segment = segments[list]
                add(drows + segment.lowerBound * w, dqueries + list * w, w)
                add(drows + (segment.lowerBound + 1) * w, dpassages + passageRows(of: list, segments).lowerBound * w,
                    (segment.count - 1) * w)
            }
        }
    }

    /// Passages of all lists (the rows after each list's query).
    static func passageCount(_ segments: [Range<Int>]) -> Int { (segments.last?.upperBound ?? 0) - segments.count }

    /// The rows of `passages[P, W]` that hold list `list`'s passages (lists are contiguous from row 0,
    /// so the passages before it are its first row less the `list` query rows before it).
    static func passageRows(of list: Int, _ segments: [Range<Int>]) -> Range<Int> {
        let first = segments[list].lowerBound - list
        return first..<first + segments[list].count - 1
    }

    private static func add(_ target: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>, _ count: Int) {
        for j in 0..<count { target[j] += source[j] }
    }
}
