import Foundation
@testable import ListConRankerTraining

/// Locates the committed fixtures: this target's goldens and the tiny model that the
/// inference tests commit (`Tests/ListConRankerTests/Fixtures/tiny-model`).
enum TrainingFixtures {
    /// `Tests/ListConRankerTrainingTests/Fixtures`.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures", isDirectory: true)
    /// The repository root.
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// The tiny random ListConRanker (hidden 16, width 24, feed-forward 40, 4 heads, 2 layers).
    static let tinyModel = repositoryRoot.appendingPathComponent("Tests/ListConRankerTests/Fixtures/tiny-model",
                                                                 isDirectory: true)

    /// What `tools/reference/make_training_fixtures.py` recorded.
    struct Golden: Decodable {
        struct Step: Decodable {
            let learning_rate: Float
            let norm: Float
        }
        struct Optimizer: Decodable {
            let peak_learning_rate: Float
            let warmup_steps: Int
            let total_steps: Int
            let weight_decay: Float
            let beta1: Float
            let beta2: Float
            let epsilon: Float
            let max_norm: Float
            let steps: [Step]
            let parameters_after: [String: [Float]]
        }
        let list_lengths: [Int]
        let relevant: [Bool]
        let hidden: Int
        let pooled: [Float]
        /// The loss's gradient with respect to `pooled` (stage 2 carries it into the encoder).
        let pooled_gradient: [Float]
        let margin: Float
        let gamma: Float
        let logits: [Float]
        let list_losses: [Float]
        let loss: Float
        let gradients: [String: [Float]]
        let optimizer: Optimizer
        let schedule_learning_rates: [Float]
    }

    static func golden() throws -> Golden {
        try JSONDecoder().decode(Golden.self, from: Data(contentsOf: root.appendingPathComponent("training-goldens.json")))
    }

    /// The inference goldens of the tiny model (`model-goldens.json`): pooled vectors and logits.
    struct InferenceGolden: Decodable {
        let lists: [[String]]
        let pooled: [[Float]]
        let features: [[Float]]
        let logits: [[Float]]
    }

    static func inferenceGolden() throws -> InferenceGolden {
        let url = repositoryRoot.appendingPathComponent("Tests/ListConRankerTests/Fixtures/model-goldens.json")
        let all = try JSONDecoder().decode([String: InferenceGolden].self, from: Data(contentsOf: url))
        guard let tiny = all["tiny-model"] else { throw TrainingError.invalidInput("no tiny-model in model-goldens.json") }
        return tiny
    }
}

/// `‖a − b‖ / ‖b‖` (or `‖a − b‖` when `b` is zero).
func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    var difference = 0.0, norm = 0.0
    for (x, y) in zip(a, b) {
        difference += Double(x - y) * Double(x - y)
        norm += Double(y) * Double(y)
    }
    return norm > 0 ? (difference / norm).squareRoot() : difference.squareRoot()
}

/// The largest `|a − b|`.
func maxAbsoluteError(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// The L2 norm, accumulated in Double.
func norm(_ values: [Float]) -> Double {
    values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
}
