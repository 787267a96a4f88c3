import Foundation
import Testing
@testable import ListConRankerTraining

/// The list head's forward, Circle Loss and backward against PyTorch autograd on the same
/// inputs (`training-goldens.json`: the tiny model, 3 lists of 5, 3 and 7 rows, dropout off).
@Suite struct ListHeadGradientTests {
    struct Run {
        let golden: TrainingFixtures.Golden
        let parameters: ListHeadParameters
        let pass: ListHeadForwardPass
        let loss: CircleLoss.Result
        let gradients: ListHeadGradients
    }

    static func run() throws -> Run {
        let golden = try TrainingFixtures.golden()
        let parameters = try ListHeadParameters.load(modelDirectory: TrainingFixtures.tinyModel)
        let network = try ListHeadNetwork(layout: parameters.layout)
        let batch = try ListBatch(pooled: golden.pooled, hidden: golden.hidden, listLengths: golden.list_lengths)
        let pass = try network.forward(batch, parameters: parameters)
        let loss = try CircleLoss(margin: golden.margin, scale: golden.gamma)
            .evaluate(logits: pass.logits, relevant: golden.relevant, listLengths: golden.list_lengths)
        var gradients = ListHeadGradients(layout: parameters.layout)
        try network.backward(pass, logitGradients: loss.logitGradients, parameters: parameters, gradients: &gradients)
        return Run(golden: golden, parameters: parameters, pass: pass, loss: loss, gradients: gradients)
    }

    /// Logits to 1e-5 and the loss (each list's and the mean) to 1e-5 of PyTorch's.
    @Test func logitsAndLossMatchPyTorch() throws {
        let run = try Self.run()
        let logitError = maxAbsoluteError(run.pass.logits, run.golden.logits)
        #expect(logitError <= 1e-5, "max logit error \(logitError)")
        let listLossError = maxAbsoluteError(run.loss.listLosses, run.golden.list_losses)
        #expect(listLossError <= 1e-5 * max(1, run.golden.loss), "max list loss error \(listLossError)")
        #expect(abs(run.loss.loss - run.golden.loss) <= 1e-5 * max(1, abs(run.golden.loss)),
                "loss \(run.loss.loss) against \(run.golden.loss)")
        print("max |logit − torch| \(logitError); |loss − torch| \(abs(run.loss.loss - run.golden.loss))")
    }

    /// Every parameter's gradient within ‖ours − torch‖/‖torch‖ ≤ 1e-4.
    @Test func everyParameterGradientMatchesPyTorch() throws {
        let run = try Self.run()
        #expect(Set(run.golden.gradients.keys) == Set(run.parameters.layout.entries.map(\.name)))
        var worst = (name: "", error: 0.0)
        for entry in run.parameters.layout.entries {
            let expected = try #require(run.golden.gradients[entry.name])
            let error = relativeError(try run.gradients.tensor(entry.name), expected)
            #expect(error <= 1e-4, "\(entry.name): relative error \(error)")
            if error > worst.error { worst = (entry.name, error) }
        }
        print("worst gradient relative error \(worst.error) (\(worst.name))")
    }

    /// The gradient with respect to the pooled inputs (stage 2's link into the encoder) within
    /// 1e-4 relative of PyTorch's, with the parameters' gradients unchanged by asking for it.
    @Test func pooledInputGradientMatchesPyTorch() throws {
        let run = try Self.run()
        let network = try ListHeadNetwork(layout: run.parameters.layout)
        var gradients = ListHeadGradients(layout: run.parameters.layout)
        let dpooled = try network.backwardToPooled(run.pass, logitGradients: run.loss.logitGradients,
                                                   parameters: run.parameters, gradients: &gradients)
        let error = relativeError(dpooled, run.golden.pooled_gradient)
        #expect(error <= 1e-4, "pooled gradient relative error \(error)")
        #expect(gradients.values == run.gradients.values)
    }

    /// Backward accumulates: two backward passes give twice the gradient.
    @Test func backwardAccumulates() throws {
        let run = try Self.run()
        let network = try ListHeadNetwork(layout: run.parameters.layout)
        var twice = run.gradients
        try network.backward(run.pass, logitGradients: run.loss.logitGradients, parameters: run.parameters,
                             gradients: &twice)
        #expect(relativeError(twice.values, run.gradients.values.map { 2 * $0 }) < 1e-6)
    }
}
