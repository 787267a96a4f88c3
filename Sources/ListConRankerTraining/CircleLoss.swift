import Foundation

/// Circle Loss (Sun et al., CVPR 2020) over each list's scores `s = sigmoid(logit)`, as
/// DESIGN §1.4 states it:
///
/// `L = softplus( logsumexp_n(γ α_n (s_n − m)) + logsumexp_p(−γ α_p (s_p − (1 − m))) )`,
/// `α_p = relu(1 + m − s_p)`, `α_n = relu(s_n + m)`, the α treated as constants (detached);
/// the batch loss is the mean over lists.
public struct CircleLoss: Sendable, Equatable {
    /// The relaxation margin m (default 0.25).
    public let margin: Float
    /// The scale γ (default 32).
    public let scale: Float

    /// The loss with margin `margin` and scale `scale`; throws unless both are finite and γ > 0.
    public init(margin: Float = 0.25, scale: Float = 32) throws {
        guard margin.isFinite, scale.isFinite, scale > 0 else {
            throw TrainingError.invalidInput("Circle Loss needs a finite margin and a positive scale (m \(margin), γ \(scale))")
        }
        self.margin = margin
        self.scale = scale
    }

    /// The loss and its gradient with respect to the logits.
    public struct Result: Sendable, Equatable {
        /// Mean over lists.
        public let loss: Float
        /// Each list's loss.
        public let listLosses: [Float]
        /// `∂loss/∂logit` for every logit (`[P]`, list after list).
        public let logitGradients: [Float]
    }

    /// The loss of logits `logits` (one per passage, list after list) whose passages are
    /// relevant where `relevant` is true. `listLengths` are the lists' row counts with the
    /// query (as ``ListBatch/listLengths``), so list k has `listLengths[k] − 1` logits; each
    /// list needs at least one relevant and one irrelevant passage.
    ///
    /// `listCount` divides the summed list losses; it defaults to this call's lists (the mean).
    /// When a batch is split into micro-batches whose gradients add up before one step, pass
    /// the whole batch's list count so the sum of the parts equals the batch's mean.
    public func evaluate(logits: [Float], relevant: [Bool], listLengths: [Int],
                         listCount: Int? = nil) throws -> Result {
        try Self.check(relevant: relevant, listLengths: listLengths)
        guard logits.count == relevant.count else {
            throw TrainingError.invalidInput("\(logits.count) logits and \(relevant.count) labels for lists of \(listLengths) rows")
        }
        let divisor = listCount ?? listLengths.count
        guard divisor > 0 else { throw TrainingError.invalidInput("list count must be positive, got \(divisor)") }
        let m = Double(margin), gamma = Double(scale)
        var losses: [Float] = []
        var gradients = [Float](repeating: 0, count: logits.count)
        var start = 0
        for length in listLengths {
            let range = start..<start + length - 1
            start = range.upperBound
            // u_i = γ α_n (s_n − m) for negatives, −γ α_p (s_p − (1 − m)) for positives; ∂u_i/∂s_i = ±γ α.
            var exponent = [Double](repeating: 0, count: range.count)
            var slope = [Double](repeating: 0, count: range.count)
            var scores = [Double](repeating: 0, count: range.count)
            for (j, i) in range.enumerated() {
                let s = 1 / (1 + exp(-Double(logits[i])))
                scores[j] = s
                if relevant[i] {
                    let alpha = max(1 + m - s, 0)
                    exponent[j] = -gamma * alpha * (s - (1 - m))
                    slope[j] = -gamma * alpha
                } else {
                    let alpha = max(s + m, 0)
                    exponent[j] = gamma * alpha * (s - m)
                    slope[j] = gamma * alpha
                }
            }
            let positives = (0..<range.count).filter { relevant[range.lowerBound + $0] }
            let negatives = (0..<range.count).filter { !relevant[range.lowerBound + $0] }
            let (lsePositive, weightsPositive) = Self.logSumExp(positives.map { exponent[$0] })
            let (lseNegative, weightsNegative) = Self.logSumExp(negatives.map { exponent[$0] })
            let z = lseNegative + lsePositive
            losses.append(Float(Self.softplus(z)))
            // ∂L/∂z = sigmoid(z); ∂lse/∂u_i = softmax weight; ∂s/∂logit = s (1 − s).
            let outer = 1 / (1 + exp(-z)) / Double(divisor)
            for (weight, j) in Array(zip(weightsPositive, positives)) + Array(zip(weightsNegative, negatives)) {
                gradients[range.lowerBound + j] = Float(outer * weight * slope[j] * scores[j] * (1 - scores[j]))
            }
        }
        return Result(loss: Self.meanLoss(losses, divisor: divisor), listLosses: losses, logitGradients: gradients)
    }

    /// Checks labels for lists of `listLengths` rows (each list's query and passages): a label a
    /// passage, and each list with at least one relevant and one irrelevant passage. What
    /// ``evaluate(logits:relevant:listLengths:listCount:)`` requires, and what a step that computes the
    /// loss on a GPU checks before its labels go there.
    public static func check(relevant: [Bool], listLengths: [Int]) throws {
        let passages = listLengths.reduce(0) { $0 + $1 - 1 }
        guard listLengths.allSatisfy({ $0 >= 2 }), relevant.count == passages else {
            throw TrainingError.invalidInput("\(relevant.count) labels for lists of \(listLengths) rows")
        }
        var start = 0
        for (k, length) in listLengths.enumerated() {
            let labels = relevant[start..<start + length - 1]
            start += length - 1
            guard labels.contains(true), labels.contains(false) else {
                throw TrainingError.invalidInput("list \(k) needs at least one relevant and one irrelevant passage")
            }
        }
    }

    /// The loss of lists whose own losses are `listLosses`: their sum (in Double, in order) over
    /// `divisor` (``Result/loss``).
    static func meanLoss<Losses: Sequence<Float>>(_ listLosses: Losses, divisor: Int) -> Float {
        Float(listLosses.reduce(0.0) { $0 + Double($1) } / Double(divisor))
    }

    /// The lengths of lists given as their rows (``TrainingBackend/circleLoss(_:dlogits:losses:logits:relevant:segments:divisor:)``'s
    /// `segments`: consecutive from 0, each a query and at least one passage), checked with the
    /// divisor of their loss.
    static func listLengths(ofRows segments: [Range<Int>], divisor: Int) throws -> [Int] {
        var end = 0
        for list in segments {
            guard list.lowerBound == end, list.count >= 2 else {
                throw TrainingError.invalidInput("lists of rows \(segments) are not consecutive from 0 with a passage each")
            }
            end = list.upperBound
        }
        guard divisor > 0 else { throw TrainingError.invalidInput("list count must be positive, got \(divisor)") }
        return segments.map(\.count)
    }

    /// `log Σ exp(u)` and the softmax weights `exp(u − lse)`, shifted by the maximum.
    static func logSumExp(_ u: [Double]) -> (Double, [Double]) {
        let top = u.max() ?? 0
        let exps = u.map { exp($0 - top) }
        let sum = exps.reduce(0, +)
        return (top + log(sum), exps.map { $0 / sum })
    }

    /// `log(1 + eˣ)` without overflow.
    static func softplus(_ x: Double) -> Double { x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)) }
}
