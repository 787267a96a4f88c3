import Foundation

/// Clipping by global norm with `torch.nn.utils.clip_grad_norm_` semantics.
public enum GradientClipping {
    /// The L2 norm of all gradients together.
    public static func globalNorm(_ gradients: ListHeadGradients) -> Float {
        var sum = 0.0
        for value in gradients.values { sum += Double(value) * Double(value) }
        return Float(sum.squareRoot())
    }

    /// Scales every gradient by `min(1, maxNorm / (norm + 1e-6))` and returns the norm before
    /// clipping (what `clip_grad_norm_` returns). Throws unless `maxNorm` is positive and finite,
    /// or when the norm is not finite (a diverged step should stop, not be silently clipped).
    @discardableResult
    public static func clip(_ gradients: inout ListHeadGradients, maxNorm: Float) throws -> Float {
        guard maxNorm.isFinite, maxNorm > 0 else {
            throw TrainingError.invalidInput("max gradient norm must be positive and finite, got \(maxNorm)")
        }
        let norm = globalNorm(gradients)
        guard norm.isFinite else { throw TrainingError.invalidInput("gradient norm is \(norm)") }
        let coefficient = min(1, maxNorm / (norm + 1e-6))
        if coefficient < 1 {
            gradients.values.withUnsafeMutableBufferPointer { values in
                for i in values.indices { values[i] *= coefficient }
            }
        }
        return norm
    }
}
