import Foundation

/// `nn.LayerNorm` over the last dimension, forward and backward. The forward keeps each row's
/// mean and reciprocal standard deviation, which is all the backward needs besides the input.
/// Rows are split over the cores; the parameter gradients, sums over rows, are split by column,
/// each column summed in row order as one thread would.
enum LayerNormOps {
    /// Rows per share of a split loop.
    static let rowsPerShare = 16

    /// `y[r] = (x[r] − mean_r) · rstd_r · γ + β` with `rstd_r = 1/√(var_r + eps)` (biased
    /// variance, as PyTorch). Statistics are accumulated in Double: rows are short, and it keeps
    /// the result within rounding of PyTorch's.
    static func forward(y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                        rstd: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                        beta: UnsafePointer<Float>, rows: Int, width: Int, eps: Float) {
        ParallelLoop.shares(rows, minimumPerShare: rowsPerShare) { share in
            for r in share {
                let row = x + r * width, out = y + r * width
                var sum = 0.0
                for j in 0..<width { sum += Double(row[j]) }
                let m = sum / Double(width)
                var squares = 0.0
                for j in 0..<width { let d = Double(row[j]) - m; squares += d * d }
                let s = 1 / (squares / Double(width) + Double(eps)).squareRoot()
                mean[r] = Float(m)
                rstd[r] = Float(s)
                for j in 0..<width { out[j] = Float((Double(row[j]) - m) * s) * gamma[j] + beta[j] }
            }
        }
    }

    /// Accumulates `dx += rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂))` with `dx̂ = dy · γ`,
    /// `dγ += Σ_rows dy · x̂`, `dβ += Σ_rows dy`.
    static func backward(dx: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>,
                         dbeta: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                         mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                         rows: Int, width: Int) {
        ParallelLoop.shares(rows, minimumPerShare: rowsPerShare) { share in
            for r in share {
                let row = x + r * width, grad = dy + r * width, out = dx + r * width
                let m = mean[r], s = rstd[r]
                var meanDxhat: Float = 0, meanDxhatXhat: Float = 0
                for j in 0..<width {
                    let xhat = (row[j] - m) * s
                    let dxhat = grad[j] * gamma[j]
                    meanDxhat += dxhat
                    meanDxhatXhat += dxhat * xhat
                }
                meanDxhat /= Float(width)
                meanDxhatXhat /= Float(width)
                for j in 0..<width {
                    let xhat = (row[j] - m) * s
                    out[j] += s * (grad[j] * gamma[j] - meanDxhat - xhat * meanDxhatXhat)
                }
            }
        }
        // dγ and dβ: each share owns a band of columns and walks every row.
        ParallelLoop.shares(width, minimumPerShare: 64) { columns in
            for r in 0..<rows {
                let row = x + r * width, grad = dy + r * width
                let m = mean[r], s = rstd[r]
                for j in columns {
                    dgamma[j] += grad[j] * ((row[j] - m) * s)
                    dbeta[j] += grad[j]
                }
            }
        }
    }
}
