import Foundation
import ListConRanker

/// Float32 master copies of every trainable tensor of the list head: `linear_in_embedding`
/// and the ListTransformer with its score head, in one flat buffer laid out by
/// ``ParameterLayout``.
public struct ListHeadParameters: Sendable, Equatable {
    /// Where each named tensor lies in ``values``.
    public let layout: ParameterLayout
    /// All elements, tensor after tensor (row-major within each).
    public var values: [Float]

    /// For callers that made `values` from `layout.count` themselves.
    init(layout: ParameterLayout, countedValues values: [Float]) {
        self.layout = layout
        self.values = values
    }

    /// The dimensions.
    public var shape: ListHeadShape { layout.shape }

    /// Wraps `values` laid out by `layout`; throws if the count differs.
    public init(layout: ParameterLayout, values: [Float]) throws {
        guard values.count == layout.count else {
            throw TrainingError.invalidInput("\(values.count) values for a list head of \(layout.count) parameters")
        }
        self.layout = layout
        self.values = values
    }

    /// The tensor `name`, row-major; throws if there is none.
    public func tensor(_ name: String) throws -> [Float] {
        FlatTensors.tensor(values, try layout.require(name))
    }

    /// Replaces the tensor `name`; throws if there is none or the count differs.
    public mutating func setTensor(_ name: String, _ elements: [Float]) throws {
        try FlatTensors.set(&values, try layout.require(name), elements)
    }

    /// Loads the two head files of a model directory: `linear_in_embedding.pt` and
    /// `list_transformer.pt`. The head count is `num_attention_heads` of its `config.json`
    /// (the original passes BERT's head count to the ListTransformer).
    public static func load(modelDirectory: URL) throws -> ListHeadParameters {
        let heads = try EncoderConfigurationFile.read(modelDirectory.appendingPathComponent("config.json")).headCount
        return try load(inputEmbedding: try openCheckpoint(at: modelDirectory.appendingPathComponent("linear_in_embedding.pt")),
                        listTransformer: try openCheckpoint(at: modelDirectory.appendingPathComponent("list_transformer.pt")),
                        heads: heads)
    }

    /// Reads every head tensor by name from the two opened checkpoints. The sizes are read off
    /// the weights, the layer count off the `list_transformer.layers.N.` keys; the unused
    /// `list_transformer_layer.*` copy is ignored. Throws naming the file and key on any missing
    /// key or wrong shape.
    public static func load(inputEmbedding: any TensorStore, listTransformer: any TensorStore,
                            heads: Int) throws -> ListHeadParameters {
        guard let input = inputEmbedding.descriptor(named: "weight"), input.shape.count == 2 else {
            throw TrainingError.badWeights("\(inputEmbedding.url.path): no 2-D \"weight\"")
        }
        guard let linear1 = listTransformer.descriptor(named: "list_transformer.layers.0.linear1.weight"),
              linear1.shape.count == 2 else {
            throw TrainingError.badWeights("\(listTransformer.url.path): no 2-D \"list_transformer.layers.0.linear1.weight\"")
        }
        let layerIndices = Set(listTransformer.descriptors.compactMap { descriptor -> Int? in
            let prefix = "list_transformer.layers."
            guard descriptor.name.hasPrefix(prefix) else { return nil }
            return Int(descriptor.name.dropFirst(prefix.count).prefix { $0 != "." })
        })
        let layers = layerIndices.count
        guard layers > 0, layerIndices == Set(0..<layers) else {
            throw TrainingError.badWeights("\(listTransformer.url.path): layer indices \(layerIndices.sorted()) are not 0..<n")
        }
        let shape = try ListHeadShape(hidden: input.shape[1], width: input.shape[0], feedForward: linear1.shape[0],
                                      heads: heads, layers: layers)
        let layout = ParameterLayout(shape: shape)
        var values = [Float](repeating: 0, count: layout.count)
        for entry in layout.entries {
            let isInput = entry.name.hasPrefix(ParameterLayout.inputEmbeddingPrefix)
            let store = isInput ? inputEmbedding : listTransformer
            let key = isInput ? String(entry.name.dropFirst(ParameterLayout.inputEmbeddingPrefix.count)) : entry.name
            guard let descriptor = store.descriptor(named: key) else {
                throw TrainingError.badWeights("\(store.url.path): missing key \"\(key)\"")
            }
            guard descriptor.shape == entry.shape else {
                throw TrainingError.badWeights("\(store.url.path): \"\(key)\" has shape \(descriptor.shape), expected \(entry.shape)")
            }
            let scalars: [Float]
            do {
                scalars = try store.tensor(named: key).scalars
            } catch {
                throw TrainingError.badWeights("\(store.url.path): \"\(key)\": \(error)")
            }
            values.replaceSubrange(entry.range, with: scalars)
        }
        return ListHeadParameters(layout: layout, countedValues: values)
    }
}
