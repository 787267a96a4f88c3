import Foundation

/// AdamW with `torch.optim.AdamW` semantics (single-tensor path): for step t = 1, 2, …
///
/// `p ← p − lr·λ·p` (decoupled weight decay, before the Adam update, only for tensors whose
/// ``ParameterLayout/Entry/decays`` is true), `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
/// `p ← p − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)`.
///
/// Moments are Float32, one per parameter, in the parameters' layout.
public struct AdamW: Sendable {
    /// β₁ (default 0.9).
    public let beta1: Float
    /// β₂ (default 0.999).
    public let beta2: Float
    /// ε (default 1e-8).
    public let epsilon: Float
    /// λ, the decoupled weight decay (default 0.01, as torch's AdamW).
    public let weightDecay: Float
    /// Steps taken so far.
    public private(set) var step = 0
    /// First moments.
    public private(set) var firstMoments: [Float]
    /// Second moments.
    public private(set) var secondMoments: [Float]
    private let layout: ParameterLayout

    /// An optimizer for parameters laid out by `layout`, its moments zero.
    public init(layout: ParameterLayout, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0.01) throws {
        guard (0..<1).contains(beta1), (0..<1).contains(beta2), epsilon > 0, weightDecay >= 0,
              epsilon.isFinite, weightDecay.isFinite else {
            throw TrainingError.invalidInput("AdamW needs 0 ≤ β < 1, ε > 0, λ ≥ 0 (β₁ \(beta1), β₂ \(beta2), ε \(epsilon), λ \(weightDecay))")
        }
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.layout = layout
        firstMoments = [Float](repeating: 0, count: layout.count)
        secondMoments = [Float](repeating: 0, count: layout.count)
    }

    /// Puts back the step count and moments of a saved run (``--resume``), so the next
    /// ``update(_:gradients:learningRate:)`` continues exactly where the saved optimizer was.
    public mutating func restore(step: Int, firstMoments: [Float], secondMoments: [Float]) throws {
        guard step >= 0, firstMoments.count == layout.count, secondMoments.count == layout.count else {
            throw TrainingError.invalidInput("optimizer state of step \(step) with \(firstMoments.count)/\(secondMoments.count) "
                + "moments for \(layout.count) parameters")
        }
        self.step = step
        self.firstMoments = firstMoments
        self.secondMoments = secondMoments
    }

    /// Takes one step on `parameters` with `gradients` at learning rate `learningRate`.
    public mutating func update(_ parameters: inout ListHeadParameters, gradients: ListHeadGradients,
                                learningRate: Float) throws {
        guard parameters.layout == layout, gradients.layout == layout else {
            throw TrainingError.invalidInput("AdamW: parameters or gradients of another layout")
        }
        guard learningRate.isFinite, learningRate >= 0 else {
            throw TrainingError.invalidInput("learning rate must be finite and ≥ 0, got \(learningRate)")
        }
        step += 1
        let lr = learningRate, b1 = beta1, b2 = beta2, eps = epsilon
        // Computed as torch computes them: Python floats (double), then used against float32 tensors.
        let stepSize = Float(Double(lr) / (1 - pow(Double(b1), Double(step))))
        let correction2Root = Float((1 - pow(Double(b2), Double(step))).squareRoot())
        let decay = 1 - lr * weightDecay
        parameters.values.withUnsafeMutableBufferPointer { p in
            firstMoments.withUnsafeMutableBufferPointer { m in
                secondMoments.withUnsafeMutableBufferPointer { v in
                    gradients.values.withUnsafeBufferPointer { g in
                        for entry in layout.entries {
                            for i in entry.range {
                                if entry.decays { p[i] *= decay }
                                m[i] += (g[i] - m[i]) * (1 - b1)              // torch: exp_avg.lerp_(grad, 1 − β₁)
                                v[i] = v[i] * b2 + (1 - b2) * g[i] * g[i]
                                let denominator = v[i].squareRoot() / correction2Root + eps
                                p[i] -= stepSize * m[i] / denominator
                            }
                        }
                    }
                }
            }
        }
    }
}
