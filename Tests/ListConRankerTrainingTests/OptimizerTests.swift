import Foundation
import Testing
@testable import ListConRankerTraining

/// AdamW, clipping and the schedule against torch.optim.AdamW, clip_grad_norm_ and
/// transformers' get_linear_schedule_with_warmup (`training-goldens.json`).
@Suite struct OptimizerTests {
    /// The schedule's learning rate at steps 0…7 (warm-up 2, total 6) equals transformers'.
    @Test func scheduleMatchesTransformers() throws {
        let golden = try TrainingFixtures.golden()
        let o = golden.optimizer
        let schedule = try LinearWarmupSchedule(peak: o.peak_learning_rate, warmupSteps: o.warmup_steps,
                                                totalSteps: o.total_steps)
        let ours = (0..<golden.schedule_learning_rates.count).map { schedule.learningRate(atStep: $0) }
        #expect(maxAbsoluteError(ours, golden.schedule_learning_rates) <= 1e-9)
    }

    /// Three steps of clip + AdamW at the scheduled rate, each fed PyTorch's gradients (so only
    /// the optimizer is under test), leave every parameter within 1e-6 of PyTorch's.
    @Test func threeAdamWStepsMatchPyTorch() throws {
        let golden = try TrainingFixtures.golden()
        let o = golden.optimizer
        var parameters = try ListHeadParameters.load(modelDirectory: TrainingFixtures.tinyModel)
        let layout = parameters.layout
        var torchGradients = ListHeadGradients(layout: layout)
        for entry in layout.entries {
            torchGradients.values.replaceSubrange(entry.range, with: try #require(golden.gradients[entry.name]))
        }
        let schedule = try LinearWarmupSchedule(peak: o.peak_learning_rate, warmupSteps: o.warmup_steps,
                                                totalSteps: o.total_steps)
        var optimizer = try AdamW(layout: layout, beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon,
                                  weightDecay: o.weight_decay)
        for (k, step) in o.steps.enumerated() {
            var gradients = torchGradients
            let norm = try GradientClipping.clip(&gradients, maxNorm: o.max_norm)
            #expect(abs(norm - step.norm) <= 1e-5 * step.norm, "step \(k): norm \(norm) against \(step.norm)")
            let rate = schedule.learningRate(atStep: k)
            #expect(abs(rate - step.learning_rate) <= 1e-9)
            try optimizer.update(&parameters, gradients: gradients, learningRate: rate)
        }
        #expect(optimizer.step == 3)
        var worst: Float = 0
        for entry in layout.entries {
            let error = maxAbsoluteError(try parameters.tensor(entry.name), try #require(o.parameters_after[entry.name]))
            #expect(error <= 1e-6, "\(entry.name): max error \(error)")
            worst = max(worst, error)
        }
        print("AdamW after 3 steps: max |param − torch| \(worst)")
    }

    /// The whole step with our own gradients (forward, Circle Loss, backward, clip, AdamW × 3,
    /// each step reusing the first gradients as the golden does): parameters within 1e-6 of
    /// PyTorch's, except the attention key bias. Its gradient is exactly zero in exact arithmetic
    /// (adding one vector to every key shifts each softmax row by a constant), so both sides hold
    /// rounding noise there, and Adam, which divides a gradient by its own magnitude, turns that
    /// noise into ±lr-sized steps that differ between implementations. For it, the test checks
    /// that both gradients are indeed noise.
    @Test func fullStepWithOurGradientsMatchesPyTorch() throws {
        let golden = try TrainingFixtures.golden()
        let o = golden.optimizer
        let run = try ListHeadGradientTests.run()
        var parameters = run.parameters
        let schedule = try LinearWarmupSchedule(peak: o.peak_learning_rate, warmupSteps: o.warmup_steps,
                                                totalSteps: o.total_steps)
        var optimizer = try AdamW(layout: parameters.layout, beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon,
                                  weightDecay: o.weight_decay)
        for k in 0..<o.steps.count {
            var gradients = run.gradients
            try GradientClipping.clip(&gradients, maxNorm: o.max_norm)
            try optimizer.update(&parameters, gradients: gradients, learningRate: schedule.learningRate(atStep: k))
        }
        let w = parameters.shape.width
        var worst = (name: "", error: Float(0))
        for entry in parameters.layout.entries {
            var ours = try parameters.tensor(entry.name), theirs = try #require(o.parameters_after[entry.name])
            if entry.name.hasSuffix("in_proj_bias") {
                let keys = w..<2 * w
                let gradientNoise = try run.gradients.tensor(entry.name)[keys] + (try #require(golden.gradients[entry.name]))[keys]
                #expect(gradientNoise.allSatisfy { abs($0) < 1e-5 }, "\(entry.name): key-bias gradient is not noise")
                ours.removeSubrange(keys)
                theirs.removeSubrange(keys)
            }
            let error = maxAbsoluteError(ours, theirs)
            if error > worst.error { worst = (entry.name, error) }
        }
        #expect(worst.error <= 1e-6, "\(worst.name): max error \(worst.error)")
        print("full step with our gradients: max |param − torch| \(worst.error) (\(worst.name))")
    }

    /// Clipping scales to the limit when over it and leaves gradients alone when under it.
    @Test func clippingByGlobalNorm() throws {
        let shape = try ListHeadShape(hidden: 2, width: 2, feedForward: 2, heads: 1, layers: 1)
        let layout = ParameterLayout(shape: shape)
        var gradients = try ListHeadGradients(layout: layout, values: [Float](repeating: 1, count: layout.count))
        let norm = try GradientClipping.clip(&gradients, maxNorm: 1)
        #expect(abs(norm - Float(layout.count).squareRoot()) < 1e-5)
        #expect(abs(GradientClipping.globalNorm(gradients) - 1) < 1e-5)
        let before = gradients
        try GradientClipping.clip(&gradients, maxNorm: 10)
        #expect(gradients == before)
        #expect(throws: TrainingError.self) { try GradientClipping.clip(&gradients, maxNorm: 0) }
    }
}
