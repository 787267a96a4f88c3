import Foundation
import ListConRanker
import Testing
@testable import ListConRankerTraining

/// The training forward computes what inference computes: on the tiny model's recorded pooled
/// vectors (4 lists, `model-goldens.json`), its features and logits equal PyTorch's and those
/// of the inference `ListTransformer` reached through the public `Reranker`.
@Suite struct ListHeadInferenceParityTests {
    @Test func trainingForwardEqualsInferenceLogits() throws {
        let golden = try TrainingFixtures.inferenceGolden()
        let lengths = golden.lists.map(\.count)
        let hidden = try #require(golden.pooled.first?.count)
        let batch = try ListBatch(pooled: golden.pooled.flatMap { $0 }, hidden: hidden, listLengths: lengths)
        let parameters = try ListHeadParameters.load(modelDirectory: TrainingFixtures.tinyModel)
        let pass = try ListHeadNetwork(layout: parameters.layout).forward(batch, parameters: parameters)

        let featureError = maxAbsoluteError(pass.features, golden.features.flatMap { $0 })
        #expect(featureError <= 1e-5, "features: max error \(featureError)")
        let torchError = maxAbsoluteError(pass.logits, golden.logits.flatMap { $0 })
        #expect(torchError <= 1e-5, "logits against PyTorch: max error \(torchError)")

        let reranker = try Reranker(modelDirectory: TrainingFixtures.tinyModel)
        let width = parameters.shape.width
        let inference = try reranker.model.logits(features: Tensor(shape: [batch.rows, width], scalars: pass.features),
                                                  listLengths: lengths)
        let inferenceError = maxAbsoluteError(pass.logits, inference)
        #expect(inference.count == pass.logits.count)
        #expect(inferenceError <= 1e-5, "logits against the inference ListTransformer: max error \(inferenceError)")
        print("max |logit − torch| \(torchError); max |logit − inference| \(inferenceError)")
    }
}
