import Foundation
import ListConRanker
import Testing
@testable import ListConRankerTraining

@Suite struct ListHeadParametersTests {
    /// Loading the tiny model's two head files gives its sizes (layers counted from the keys,
    /// heads from config.json) and every tensor exactly as the checkpoint reader returns it.
    @Test func loadsEveryHeadTensorOfTheTinyModel() throws {
        let parameters = try ListHeadParameters.load(modelDirectory: TrainingFixtures.tinyModel)
        #expect(parameters.shape == (try ListHeadShape(hidden: 16, width: 24, feedForward: 40, heads: 4, layers: 2)))
        let input = try openCheckpoint(at: TrainingFixtures.tinyModel.appendingPathComponent("linear_in_embedding.pt"))
        let list = try openCheckpoint(at: TrainingFixtures.tinyModel.appendingPathComponent("list_transformer.pt"))
        #expect(try parameters.tensor("linear_in_embedding.weight") == input.tensor(named: "weight").scalars)
        #expect(try parameters.tensor("linear_in_embedding.bias") == input.tensor(named: "bias").scalars)
        let listKeys = list.descriptors.map(\.name).filter { !$0.hasPrefix("list_transformer_layer.") }
        #expect(parameters.layout.entries.count == listKeys.count + 2)
        for key in listKeys {
            #expect(try parameters.tensor(key) == list.tensor(named: key).scalars, "\(key)")
        }
        #expect(parameters.layout.count == parameters.values.count)
    }

    /// The weight-decay rule: matrices and the tag embedding decay; biases and LayerNorms do not.
    @Test func weightDecayRule() {
        #expect(ParameterLayout.decays("linear_in_embedding.weight"))
        #expect(ParameterLayout.decays("list_transformer.layers.0.self_attn.in_proj_weight"))
        #expect(ParameterLayout.decays("query_embedding.query_embedding.weight"))
        #expect(!ParameterLayout.decays("list_transformer.layers.0.self_attn.in_proj_bias"))
        #expect(!ParameterLayout.decays("list_transformer.layers.1.norm2.weight"))
        #expect(!ParameterLayout.decays("query_embedding.layerNorm.weight"))
        #expect(!ParameterLayout.decays("linear_score1.bias"))
    }

    /// Fresh initialisation follows PyTorch's rule: bounds per module kind, LayerNorm 1/0, zero
    /// attention biases, N(0,1) tags, equal layers, and the same values for the same seed.
    @Test func freshInitialisationFollowsPyTorchRule() throws {
        let shape = try ListHeadShape(hidden: 32, width: 48, feedForward: 64, heads: 4, layers: 3)
        let a = ListHeadParameters.initialised(shape: shape, seed: 7)
        #expect(a == ListHeadParameters.initialised(shape: shape, seed: 7))
        #expect(a != ListHeadParameters.initialised(shape: shape, seed: 8))
        func within(_ name: String, _ bound: Float) throws {
            let values = try a.tensor(name)
            let top = values.map(abs).max() ?? 0
            #expect(top <= bound && top > 0.8 * bound, "\(name): max |x| \(top), bound \(bound)")
        }
        try within("linear_in_embedding.weight", 1 / Float(32).squareRoot())
        try within("linear_in_embedding.bias", 1 / Float(32).squareRoot())
        try within("list_transformer.layers.0.self_attn.in_proj_weight", (6 / Float(4 * 48)).squareRoot())
        try within("list_transformer.layers.0.self_attn.out_proj.weight", 1 / Float(48).squareRoot())
        try within("list_transformer.layers.0.linear2.weight", 1 / Float(64).squareRoot())
        try within("linear_score1.weight", 1 / Float(96).squareRoot())
        #expect(try a.tensor("list_transformer.layers.0.self_attn.in_proj_bias").allSatisfy { $0 == 0 })
        #expect(try a.tensor("list_transformer.layers.0.self_attn.out_proj.bias").allSatisfy { $0 == 0 })
        #expect(try a.tensor("list_transformer.layers.1.norm1.weight").allSatisfy { $0 == 1 })
        #expect(try a.tensor("query_embedding.layerNorm.bias").allSatisfy { $0 == 0 })
        let tags = try a.tensor("query_embedding.query_embedding.weight")
        let mean = tags.reduce(0, +) / Float(tags.count)
        let variance = tags.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(tags.count)
        #expect(abs(mean) < 0.3 && abs(variance - 1) < 0.4, "tag mean \(mean), variance \(variance)")
        for name in ["self_attn.in_proj_weight", "linear1.weight", "norm2.weight"] {
            #expect(try a.tensor("list_transformer.layers.2.\(name)") == a.tensor("list_transformer.layers.0.\(name)"))
        }
    }

    /// Bad inputs are errors, not crashes.
    @Test func rejectsBadShapesAndFiles() {
        #expect(throws: TrainingError.self) { try ListHeadShape(hidden: 16, width: 25, feedForward: 40, heads: 4, layers: 2) }
        #expect(throws: (any Error).self) {
            try ListHeadParameters.load(modelDirectory: URL(fileURLWithPath: "/nonexistent-model-dir"))
        }
    }
}
