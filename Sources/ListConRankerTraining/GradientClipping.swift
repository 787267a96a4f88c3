import Foundation

/// Clipping by global norm with `torch.nn.utils.clip_grad_norm_` semantics.
public enum GradientClipping {
    /// The L2 norm of all gradients together.
    public static func globalNorm(_ gradients: ListHeadGradients) -> Float {
        Float(squaredSum(gradients.values).squareRoot())
    }

    /// Elements summed into each block of ``squaredSum(_:)``: a device sums the same blocks.
    static let block = 65_536

    /// Σ g² in double precision: fixed blocks summed over the cores, then the blocks' sums in
    /// order, so the result does not depend on the number of threads.
    static func squaredSum(_ values: [Float]) -> Double {
        values.withUnsafeBufferPointer { squaredSumBlocks($0).reduce(0, +) }
    }

    /// Σ g² in double precision of each block of ``block`` elements, in order.
    static func squaredSumBlocks(_ values: UnsafeBufferPointer<Float>) -> [Double] {
        let blocks = (values.count + block - 1) / block
        var sums = [Double](repeating: 0, count: blocks)
        sums.withUnsafeMutableBufferPointer { sums in
            ParallelLoop.shares(blocks, minimumPerShare: 4) { share in
                for b in share {
                    var sum = 0.0
                    for i in b * block..<min(values.count, (b + 1) * block) {
                        sum += Double(values[i]) * Double(values[i])
                    }
                    sums[b] = sum
                }
            }
        }
        return sums
    }

    /// Clipping over the list head's and the encoder's gradients together (stage 2): one global
    /// norm over both, both scaled by the same coefficient; returns the norm before clipping.
    @discardableResult
    public static func clip(_ head: inout ListHeadGradients, _ encoder: inout EncoderGradients, maxNorm: Float) throws -> Float {
        try checkMaximum(maxNorm)
        let norm = Float((squaredSum(head.values) + squaredSum(encoder.values)).squareRoot())
        let coefficient = try coefficient(norm: norm, maxNorm: maxNorm)
        scale(&head.values, by: coefficient)
        scale(&encoder.values, by: coefficient)
        return norm
    }

    /// Scales every gradient by `min(1, maxNorm / (norm + 1e-6))` and returns the norm before
    /// clipping (what `clip_grad_norm_` returns). Throws unless `maxNorm` is positive and finite,
    /// or when the norm is not finite (a diverged step should stop, not be silently clipped).
    @discardableResult
    public static func clip(_ gradients: inout ListHeadGradients, maxNorm: Float) throws -> Float {
        try checkMaximum(maxNorm)
        let norm = globalNorm(gradients)
        scale(&gradients.values, by: try coefficient(norm: norm, maxNorm: maxNorm))
        return norm
    }

    static func checkMaximum(_ maxNorm: Float) throws {
        guard maxNorm.isFinite, maxNorm > 0 else {
            throw TrainingError.invalidInput("max gradient norm must be positive and finite, got \(maxNorm)")
        }
    }

    /// `min(1, maxNorm / (norm + 1e-6))`, as torch computes it; throws for a norm that is not finite.
    static func coefficient(norm: Float, maxNorm: Float) throws -> Float {
        guard norm.isFinite else { throw TrainingError.invalidInput("gradient norm is \(norm)") }
        return min(1, maxNorm / (norm + 1e-6))
    }

    static func scale(_ values: inout [Float], by coefficient: Float) {
        guard coefficient < 1 else { return }
        values.withUnsafeMutableBufferPointer { values in
            guard let base = values.baseAddress else { return }
            ElementOps.scale(base, by: coefficient, count: values.count)
        }
    }
}
