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

    /// The per-step scalars of the update, wherever the elements are updated (here, or by a
    /// device's kernel of the same operations).
    struct StepScalars {
        /// `1 − β₁`, `β₂`, `1 − β₂`, ε: the optimizer's own.
        let beta1Complement: Float, beta2: Float, beta2Complement: Float, epsilon: Float
        /// `lr / (1 − β₁ᵗ)`.
        let stepSize: Float
        /// `√(1 − β₂ᵗ)`.
        let correction2Root: Float
        /// `1 − lr·λ`, the factor of a decaying tensor (the others keep 1).
        let decay: Float
    }

    /// Counts step t + 1 and returns its scalars at `learningRate`, computed as torch computes them:
    /// Python floats (double), then used against float32 tensors. Throws for a learning rate that
    /// is negative or not finite.
    mutating func beginStep(learningRate lr: Float) throws -> StepScalars {
        guard lr.isFinite, lr >= 0 else {
            throw TrainingError.invalidInput("learning rate must be finite and ≥ 0, got \(lr)")
        }
        step += 1
        return StepScalars(beta1Complement: 1 - beta1, beta2: beta2, beta2Complement: 1 - beta2, epsilon: epsilon,
                           stepSize: Float(Double(lr) / (1 - pow(Double(beta1), Double(step)))),
                           correction2Root: Float((1 - pow(Double(beta2), Double(step))).squareRoot()),
                           decay: 1 - lr * weightDecay)
    }

    /// The ranges of the flat buffer whose tensors decay, in order, adjacent ones merged.
    var decayingRanges: [Range<Int>] {
        var ranges: [Range<Int>] = []
        for entry in entries.sorted(by: { $0.range.lowerBound < $1.range.lowerBound }) where entry.decays && !entry.range.isEmpty {
            if let last = ranges.last, last.upperBound == entry.range.lowerBound {
                ranges[ranges.count - 1] = last.lowerBound..<entry.range.upperBound
            } else {
                ranges.append(entry.range)
            }
        }
        return ranges
    }

    /// Elements of the flat buffer the optimizer serves.
    var parameterCount: Int { count }

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
        let scalars = try beginStep(learningRate: learningRate), decaying = decayingRanges
        values.withUnsafeMutableBufferPointer { p in
            firstMoments.withUnsafeMutableBufferPointer { m in
                secondMoments.withUnsafeMutableBufferPointer { v in
                    gradients.withUnsafeBufferPointer { g in
                        guard let p = p.baseAddress, let m = m.baseAddress, let v = v.baseAddress,
                              let g = g.baseAddress else { return }
                        Self.update(parameters: p, firstMoments: m, secondMoments: v, gradients: g, count: count,
                                    decaying: decaying, scalars: scalars)
                    }
                }
            }
        }
    }

    /// The update of `count` elements under `scalars`, those in `decaying` (sorted, disjoint)
    /// decayed first: the CPU's elements, in memory (``update(values:gradients:learningRate:)``
    /// and the CPU training backend). Every element on its own, so splitting over the cores
    /// changes no result.
    static func update(parameters p: UnsafeMutablePointer<Float>, firstMoments m: UnsafeMutablePointer<Float>,
                       secondMoments v: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>, count: Int,
                       decaying: [Range<Int>], scalars s: StepScalars) {
        // The runs of equal decay: each decaying range, and the gaps around them.
        var runs: [(range: Range<Int>, decay: Float)] = []
        var next = 0
        for range in decaying {
            if next < range.lowerBound { runs.append((next..<range.lowerBound, 1)) }
            runs.append((range, s.decay))
            next = range.upperBound
        }
        if next < count { runs.append((next..<count, 1)) }
        for run in runs {
            let start = run.range.lowerBound
            ParallelLoop.shares(run.range.count, minimumPerShare: 32_768) { share in
                let i = start + share.lowerBound
                lcr_adamw_update(p + i, m + i, v + i, g + i, Int64(share.count), run.decay, s.beta1Complement, s.beta2,
                                 s.beta2Complement, s.stepSize, s.correction2Root, s.epsilon)
            }
        }
    }
}
