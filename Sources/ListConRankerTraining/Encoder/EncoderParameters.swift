import Foundation
import ListConRanker

/// Float32 master copies of every BERT encoder tensor, in one flat buffer laid out by
/// ``EncoderParameterLayout``, with the key prefix the file used so that a writer can write the
/// same names back (``storedKey(_:)``).
public struct EncoderParameters: Sendable, Equatable {
    /// Where each named tensor lies in ``values``.
    public let layout: EncoderParameterLayout
    /// All elements, tensor after tensor (row-major within each).
    public var values: [Float]
    /// The prefix the loaded file put before every key: `""` or `"bert."` (a `BertForX`
    /// checkpoint). ``storedKey(_:)`` adds it back.
    public let keyPrefix: String

    /// The dimensions.
    public var shape: EncoderShape { layout.shape }

    /// Wraps `values` laid out by `layout`; throws if the count differs.
    public init(layout: EncoderParameterLayout, values: [Float], keyPrefix: String = "") throws {
        guard values.count == layout.count else {
            throw TrainingError.invalidInput("\(values.count) values for an encoder of \(layout.count) parameters")
        }
        self.layout = layout
        self.values = values
        self.keyPrefix = keyPrefix
    }

    /// The key tensor `name` (a layout name) had in the loaded file, e.g. `bert.` + `name`.
    public func storedKey(_ name: String) -> String { keyPrefix + name }

    /// The tensor `name`, row-major; throws if there is none.
    public func tensor(_ name: String) throws -> [Float] {
        FlatTensors.tensor(values, try layout.require(name))
    }

    /// Replaces the tensor `name`; throws if there is none or the count differs.
    public mutating func setTensor(_ name: String, _ elements: [Float]) throws {
        try FlatTensors.set(&values, try layout.require(name), elements)
    }

    /// Loads the encoder of a model directory: `config.json` and `model.safetensors` (or
    /// `pytorch_model.bin`), keys with or without a `bert.` prefix. Returns the parameters and
    /// the configuration (its dropout probabilities are what training should use).
    public static func load(modelDirectory: URL) throws -> (parameters: EncoderParameters,
                                                             configuration: EncoderConfigurationFile) {
        let directory: ModelDirectory
        do { directory = try ModelDirectory(url: modelDirectory) } catch {
            throw TrainingError.badWeights("\(modelDirectory.path): \(error)")
        }
        let configuration = try EncoderConfigurationFile(url: directory.url(of: .config))
        guard let url = directory.encoderWeightsURL else {
            throw TrainingError.badWeights("\(modelDirectory.path): no encoder weights (model.safetensors or pytorch_model.bin)")
        }
        let weights: NamedWeights
        do { weights = NamedWeights(try openCheckpoint(at: url)) } catch {
            throw TrainingError.badWeights("\(url.path): \(error)")
        }
        let prefix = weights.storedName("embeddings.word_embeddings.weight")?.hasPrefix("bert.") == true ? "bert." : ""
        return (try load(shape: configuration.shape, weights: weights, keyPrefix: prefix), configuration)
    }

    /// Reads every tensor of the layout for `shape` from `weights` by its `BertModel` key,
    /// checking each shape; LayerNorms may use the older `gamma`/`beta` names. Every key of the
    /// source must be read, except those the inference encoder also leaves
    /// (``ListConRanker/BertEncoder/unusedKeyPrefixes``: the pooler and task heads), so that no
    /// trained weight is silently dropped from what is written back. `keyPrefix` is recorded
    /// for ``storedKey(_:)`` (the source resolves prefixes itself).
    public static func load(shape: EncoderShape, weights: any WeightSource, keyPrefix: String = "") throws -> EncoderParameters {
        let layout = EncoderParameterLayout(shape: shape)
        var values = [Float](repeating: 0, count: layout.count)
        var bound = Set<String>()
        for entry in layout.entries {
            var key = entry.name
            if weights.shape(of: key) == nil, key.contains("LayerNorm.") {
                // Older BERT checkpoints call a LayerNorm's scale and shift gamma and beta.
                let legacy = key.hasSuffix(".weight") ? String(key.dropLast("weight".count)) + "gamma"
                                                      : String(key.dropLast("bias".count)) + "beta"
                if weights.shape(of: legacy) != nil { key = legacy }
            }
            let scalars: [Float]
            do {
                scalars = try weights.tensor(key, shape: entry.shape).scalars
            } catch {
                throw TrainingError.badWeights("\(weights.origin): \(error)")
            }
            values.replaceSubrange(entry.range, with: scalars)
            bound.insert(key)
        }
        let unused = weights.names.filter { name in
            !bound.contains(name) && !BertEncoder.unusedKeyPrefixes.contains { name.hasPrefix($0) }
        }
        guard unused.isEmpty else {
            throw TrainingError.badWeights("\(weights.origin): keys the encoder does not use: \(unused.sorted().joined(separator: ", "))")
        }
        return try EncoderParameters(layout: layout, values: values, keyPrefix: keyPrefix)
    }
}
