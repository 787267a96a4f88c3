import Foundation
import Testing
@testable import ListConRankerTraining

/// Central differences against the hand-written backward, on a small freshly initialised head
/// with dropout on (the same seed gives the same masks in every forward, so the loss is a
/// fixed function of the parameters, smooth away from the score head's ReLU kinks). An element
/// whose step crosses a kink shows as one-sided slopes that disagree; such elements are
/// skipped, and few may be.
@Suite struct FiniteDifferenceTests {
    @Test func backwardMatchesCentralDifferencesWithDropout() throws {
        let shape = try ListHeadShape(hidden: 5, width: 8, feedForward: 6, heads: 2, layers: 2)
        var parameters = ListHeadParameters.initialised(shape: shape, seed: 3)
        let network = try ListHeadNetwork(layout: parameters.layout, dropout: 0.2)
        // Seed 219 keeps every score-head ReLU input at least 0.03 from its kink (asserted below).
        var generator = SeededGenerator(seed: 219)
        let lengths = [3, 5]
        let batch = try ListBatch(pooled: (0..<(8 * 5)).map { _ in generator.normal() }, hidden: 5, listLengths: lengths)
        // A linear loss L = Σ c_i logit_i: its logit gradients are the c_i.
        let weights: [Float] = (0..<batch.passageCount).map { _ in generator.normal() }
        func loss(_ p: ListHeadParameters) throws -> Double {
            let logits = try network.forward(batch, parameters: p, dropoutSeed: 99).logits
            return zip(logits, weights).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        let pass = try network.forward(batch, parameters: parameters, dropoutSeed: 99)
        #expect((pass.activations.scorePre.array + pass.activations.scorePost.array).allSatisfy { abs($0) > 0.03 })
        var gradients = ListHeadGradients(layout: parameters.layout)
        try network.backward(pass, logitGradients: weights, parameters: parameters, gradients: &gradients)

        let base = try loss(parameters)
        var checked = 0, skipped = 0, worst = 0.0
        for entry in parameters.layout.entries {
            // Three elements of every tensor: first, middle, last.
            for i in Set([entry.offset, entry.offset + entry.count / 2, entry.offset + entry.count - 1]) {
                let h: Float = 1e-3
                let saved = parameters.values[i]
                parameters.values[i] = saved + h
                let up = try loss(parameters)
                parameters.values[i] = saved - h
                let down = try loss(parameters)
                parameters.values[i] = saved
                let right = (up - base) / Double(h), left = (base - down) / Double(h)
                if abs(right - left) > 0.05 * (abs(right) + abs(left)) + 1e-3 {
                    skipped += 1
                    continue
                }
                let numeric = (up - down) / Double(2 * h)
                let analytic = Double(gradients.values[i])
                let error = abs(numeric - analytic) / max(1e-2, abs(numeric) + abs(analytic))
                worst = max(worst, error)
                #expect(error < 1e-2, "\(entry.name)[\(i - entry.offset)]: numeric \(numeric), analytic \(analytic)")
                checked += 1
            }
        }
        #expect(checked > 80 && skipped * 10 < checked, "checked \(checked), skipped at kinks \(skipped)")
        print("finite differences: \(checked) elements (\(skipped) skipped at ReLU kinks), worst relative error \(worst)")
    }

    /// Dropout changes the logits, repeats for one seed, and changes with the seed.
    @Test func dropoutIsSeededAndActive() throws {
        let shape = try ListHeadShape(hidden: 5, width: 8, feedForward: 6, heads: 2, layers: 1)
        let parameters = ListHeadParameters.initialised(shape: shape, seed: 3)
        var generator = SeededGenerator(seed: 1)
        let batch = try ListBatch(pooled: (0..<20).map { _ in generator.normal() }, hidden: 5, listLengths: [4])
        let plain = try ListHeadNetwork(layout: parameters.layout).forward(batch, parameters: parameters).logits
        let dropping = try ListHeadNetwork(layout: parameters.layout, dropout: 0.5)
        let a = try dropping.forward(batch, parameters: parameters, dropoutSeed: 1).logits
        #expect(a == (try dropping.forward(batch, parameters: parameters, dropoutSeed: 1).logits))
        #expect(a != (try dropping.forward(batch, parameters: parameters, dropoutSeed: 2).logits))
        #expect(a != plain)
        #expect(throws: TrainingError.self) { try ListHeadNetwork(layout: parameters.layout, dropout: 1) }
    }
}
