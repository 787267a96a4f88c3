import CKernels
import Foundation

/// AdamW with `torch.optim.AdamW` semantics (single-tensor path): for step t = 1, 2, …
///
/// `p ← p − lr·λ·p` (decoupled weight decay, before the Adam update, only for tensors whose
/// ``ParameterLayout/Entry/decays`` is true), `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
/// `p ← p − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)`.
///
/// Moments are Float32, one per parameter, in the parameters' layout. One optimizer serves one
/// flat buffer (the list head's, or in stage 2 also the encoder's: two optimizers stepped together
/// at the same learning rate are one AdamW over both, since every element is updated on its own).
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
    private let entries: [ParameterLayout.Entry]
    private let count: Int

    /// An optimizer for the list head's parameters laid out by `layout`, its moments zero.
    public init(layout: ParameterLayout, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0.01) throws {
        try self.init(entries: layout.entries, count: layout.count, beta1: beta1, beta2: beta2, epsilon: epsilon,
                      weightDecay: weightDecay)
    }

    /// An optimizer for a flat buffer of `count` values holding the tensors `entries` (each with
    /// its weight-decay flag), its moments zero.
    public init(entries: [ParameterLayout.Entry], count: Int, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0.01) throws {
        guard (0..<1).contains(beta1), (0..<1).contains(beta2), epsilon > 0, weightDecay >= 0,
              epsilon.isFinite, weightDecay.isFinite else {
            throw TrainingError.invalidInput("AdamW needs 0 ≤ β < 1, ε > 0, λ ≥ 0 (β₁ \(beta1), β₂ \(beta2), ε \(epsilon), λ \(weightDecay))")
        }
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.entries = entries
        self.count = count
        firstMoments = [Float](repeating: 0, count: count)
        secondMoments = [Float](repeating: 0, count: count)
    }

    /// Puts back the step count and moments of a saved run (``--resume``), so the next
    /// ``update(_:gradients:learningRate:)`` continues exactly where the saved optimizer was.
    public mutating func restore(step: Int, firstMoments: [Float], secondMoments: [Float]) throws {
        guard step >= 0, firstMoments.count == count, secondMoments.count == count else {
            throw TrainingError.invalidInput("optimizer state of step \(step) with \(firstMoments.count)/\(secondMoments.count) "
                + "moments for \(count) parameters")
        }
        self.step = step
        self.firstMoments = firstMoments
        self.secondMoments = secondMoments
    }

    /// Takes one step on the list head's `parameters` with `gradients` at learning rate `learningRate`.
    public mutating func update(_ parameters: inout ListHeadParameters, gradients: ListHeadGradients,
                                learningRate: Float) throws {
        guard parameters.layout.entries == entries, gradients.layout == parameters.layout else {
            throw TrainingError.invalidInput("AdamW: parameters or gradients of another layout")
        }
        try update(values: &parameters.values, gradients: gradients.values, learningRate: learningRate)
    }

    /// Takes one step on the flat buffer `values` (laid out as the optimizer's entries) with
    /// `gradients` (same layout) at learning rate `learningRate`.
    public mutating func update(values: inout [Float], gradients: [Float], learningRate: Float) throws {
        guard values.count == count, gradients.count == count else {
            throw TrainingError.invalidInput("AdamW: \(values.count) values and \(gradients.count) gradients for \(count) parameters")
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
        values.withUnsafeMutableBufferPointer { p in
            firstMoments.withUnsafeMutableBufferPointer { m in
                secondMoments.withUnsafeMutableBufferPointer { v in
                    gradients.withUnsafeBufferPointer { g in
                        guard let p = p.baseAddress, let m = m.baseAddress, let v = v.baseAddress,
                              let g = g.baseAddress else { return }
                        // Every element on its own, so splitting over the cores changes no result.
                        for entry in entries {
                            let start = entry.range.lowerBound, entryDecay: Float = entry.decays ? decay : 1
                            ParallelLoop.shares(entry.range.count, minimumPerShare: 32_768) { share in
                                let i = start + share.lowerBound
                                lcr_adamw_update(p + i, m + i, v + i, g + i, Int64(share.count), entryDecay, 1 - b1,
                                                 b2, 1 - b2, stepSize, correction2Root, eps)
                            }
                        }
                    }
                }
            }
        }
    }
}
