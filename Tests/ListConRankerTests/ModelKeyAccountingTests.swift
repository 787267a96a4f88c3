import Foundation
import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

/// The model accounts for every key of its weight files: the layer count comes from the keys,
/// and a key the model does not read is reported unless documented as unused.
@Suite struct ModelKeyAccountingTests {
    /// A weight file's tensors with some renamed, added or removed: what a differently shaped
    /// checkpoint would hold, without writing one.
    struct EditedWeights: WeightSource {
        var tensors: [String: Tensor]
        var origin: String { "edited list_transformer.pt" }
        var names: [String] { tensors.keys.sorted() }

        init(_ base: NamedWeights) throws {
            tensors = [:]
            for name in base.names { tensors[name] = try base.tensor(name) }
        }

        func tensor(_ name: String, shape: [Int]) throws -> Tensor {
            guard let tensor = tensors[name] else { throw ModelError.missingFile("\(origin): \(name)") }
            guard tensor.shape == shape else { throw ModelError.inconsistentWeights("\(name) has shape \(tensor.shape)") }
            return tensor
        }

        func shape(of name: String) -> [Int]? { tensors[name]?.shape }

        /// Copies layer `from`'s tensors to layer `to`.
        mutating func copyLayer(_ from: Int, to: Int) {
            for (name, tensor) in tensors where name.hasPrefix("list_transformer.layers.\(from).") {
                let rest = name.dropFirst("list_transformer.layers.\(from).".count)
                tensors["list_transformer.layers.\(to).\(rest)"] = tensor
            }
        }

        mutating func removeLayer(_ layer: Int) {
            tensors = tensors.filter { !$0.key.hasPrefix("list_transformer.layers.\(layer).") }
        }
    }

    let heads: Int
    let listWeights: NamedWeights
    let features: Tensor

    init() throws {
        let directory = Fixtures.url("tiny-model")
        let files = try ModelFiles(directory: directory)
        heads = try files.configuration().headCount
        listWeights = try files.weights(.listTransformer)
        let width = try #require(listWeights.shape(of: "query_embedding.query_embedding.weight"))[1]
        var generator = SplitMix64(seed: 7)
        features = Tensor(shape: [5, width], scalars: (0..<5 * width).map { _ in Float.random(in: -1...1, using: &generator) })
    }

    @Test func thePublishedLayoutBindsWithItsUnusedCopy() throws {
        #expect(listWeights.names.contains { $0.hasPrefix("list_transformer_layer.") })
        let head = try ListTransformer(weights: listWeights, heads: heads)
        #expect(head.layerCount == 2)
        #expect(try ListTransformer(weights: listWeights, heads: heads, expectedLayers: 2).layerCount == 2)
    }

    @Test func aThreeLayerFileRunsThreeLayers() throws {
        var edited = try EditedWeights(listWeights)
        edited.copyLayer(1, to: 2)
        let three = try ListTransformer(weights: edited, heads: heads)
        #expect(three.layerCount == 3)
        let two = try ListTransformer(weights: listWeights, heads: heads)
        let logits3 = try three.logits(features: features, listLengths: [5])
        let logits2 = try two.logits(features: features, listLengths: [5])
        #expect(logits3 != logits2, "the third layer must change the scores")
    }

    @Test func aLayerCountThatDisagreesWithTheFileIsRefused() throws {
        var edited = try EditedWeights(listWeights)
        edited.copyLayer(1, to: 2)
        #expect {
            try ListTransformer(weights: edited, heads: heads, expectedLayers: 2)
        } throws: { error in
            "\(error)".contains("has 3 list transformer layers, but 2 were asked for")
        }
    }

    @Test func aGapInTheLayerNumbersIsRefused() throws {
        var edited = try EditedWeights(listWeights)
        edited.copyLayer(1, to: 2)
        edited.removeLayer(1)
        #expect { try ListTransformer(weights: edited, heads: heads) } throws: { error in
            "\(error)".contains("are numbered [0, 2]")
        }
    }

    @Test func aKeyTheModelDoesNotUseIsReported() throws {
        var edited = try EditedWeights(listWeights)
        edited.tensors["linear_score4.weight"] = Tensor(zeros: [1, 2])
        #expect { try ListTransformer(weights: edited, heads: heads) } throws: { error in
            guard case ModelError.unusedWeights(_, let keys) = error else { return false }
            return keys == ["linear_score4.weight"]
        }
    }

    @Test func encoderHeadsAreDocumentedUnusedButOtherKeysAreNot() throws {
        let files = try ModelFiles(directory: Fixtures.url("tiny-model"))
        let configuration = try files.configuration()
        let encoderWeights = try files.encoderWeights()
        #expect(encoderWeights.names.contains { $0.hasPrefix("pooler.") })
        _ = try BertEncoder(configuration: configuration, weights: encoderWeights)   // pooler.* unread, allowed

        var fewerLayers = configuration
        fewerLayers.layerCount -= 1
        #expect { try BertEncoder(configuration: fewerLayers, weights: encoderWeights) } throws: { error in
            guard case ModelError.unusedWeights(_, let keys) = error else { return false }
            return keys.allSatisfy { $0.hasPrefix("encoder.layer.\(fewerLayers.layerCount).") } && !keys.isEmpty
        }
    }
}
