import ListConRankerTensor

/// `nn.Linear` forward and backward on row-major Float32 buffers through oneDNN's `sgemm`
/// (``ListConRankerTensor/MatrixProduct``)
/// (row-major, so PyTorch's `[out, in]` weights are used as stored, transposed in the call).
enum LinearOps {
    /// `y[rows, out] = x[rows, in] · wᵀ + b` (`w` is `[out, in]`, `b` is `[out]` or nil).
    static func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, w: UnsafePointer<Float>,
                        b: UnsafePointer<Float>?, rows: Int, inFeatures: Int, outFeatures: Int) throws {
        guard rows > 0 else { return }
        try sgemm(transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures,
                  a: x, lda: inFeatures, b: w, ldb: inFeatures, beta: 0, c: y, ldc: outFeatures)
        guard let b else { return }
        ParallelLoop.shares(rows, minimumPerShare: 16) { share in
            for r in share {
                let row = y + r * outFeatures
                for j in 0..<outFeatures { row[j] += b[j] }
            }
        }
    }

    /// Accumulates the gradients of ``forward(y:x:w:b:rows:inFeatures:outFeatures:)`` given
    /// `dy[rows, out]`: `dx[rows, in] += dy · w`, `dw[out, in] += dyᵀ · x`, `db[out] += Σ_rows dy`.
    /// `dx` may be nil when the input needs no gradient (the frozen encoder's pooled vectors), and `dw`
    /// when the caller asks for the input's gradient alone first (then `x` is not read).
    static func backward(dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>?,
                         db: UnsafeMutablePointer<Float>?, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                         w: UnsafePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int) throws {
        guard rows > 0 else { return }
        if let dx {
            try sgemm(transA: false, transB: false, m: rows, n: inFeatures, k: outFeatures,
                      a: dy, lda: outFeatures, b: w, ldb: inFeatures, beta: 1, c: dx, ldc: inFeatures)
        }
        if let dw {
            try sgemm(transA: true, transB: false, m: outFeatures, n: inFeatures, k: rows,
                      a: dy, lda: outFeatures, b: x, ldb: inFeatures, beta: 1, c: dw, ldc: inFeatures)
        }
        guard let db else { return }
        biasBackward(db: db, dy: dy, rows: rows, outFeatures: outFeatures)
    }

    /// `db[out] += Σ_rows dy[rows, out]`: the bias's part of ``backward(dx:dw:db:dy:x:w:rows:inFeatures:outFeatures:)``.
    static func biasBackward(db: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, rows: Int, outFeatures: Int) {
        // Split by output column; each column summed over the rows in order.
        ParallelLoop.shares(outFeatures, minimumPerShare: 64) { columns in
            for r in 0..<rows {
                let row = dy + r * outFeatures
                for j in columns { db[j] += row[j] }
            }
        }
    }

    /// `c[m, n] = op(a)[m, k] · op(b)[k, n] + beta · c`, row-major.
    static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                      b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) throws {
        do {
            try MatrixProduct.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                                    beta: beta, c: c, ldc: ldc)
        } catch {
            throw TrainingError.computeFailed(error.description)
        }
    }
}
