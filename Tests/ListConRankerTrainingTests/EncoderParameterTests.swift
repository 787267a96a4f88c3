import Foundation
import ListConRanker
import Testing
@testable import ListConRankerTraining

/// Loading the encoder's parameters from model directories, the layout's names and decay flags,
/// the training forward against the inference encoder, input checks, and the memory report.
@Suite struct EncoderParameterTests {
    /// Every tensor of the layout holds the file's tensor of that key; the unprefixed file is
    /// remembered as such, and the configured dropout is read.
    @Test func loadsEveryTensorByItsKey() throws {
        let (parameters, configuration) = try EncoderParameters.load(modelDirectory: TrainingFixtures.tinyModel)
        #expect(parameters.keyPrefix == "")
        #expect(configuration.dropout == (try EncoderDropout(hidden: 0.1, attention: 0.1)))
        #expect(parameters.shape == (try EncoderShape(vocabulary: 10000, hidden: 16, layers: 2, heads: 4, intermediate: 32,
                                                      maxPositions: 512)))
        let store = try openCheckpoint(at: TrainingFixtures.tinyModel.appendingPathComponent("model.safetensors"))
        for entry in parameters.layout.entries {
            let stored = try store.tensor(named: parameters.storedKey(entry.name))
            #expect(stored.shape == entry.shape, "\(entry.name)")
            #expect(stored.scalars == (try parameters.tensor(entry.name)), "\(entry.name)")
        }
        #expect(parameters.layout.entries.count == 5 + 16 * 2)
        #expect(parameters.layout.count == parameters.layout.entries.reduce(0) { $0 + $1.count })
    }

    /// A `bert.`-prefixed `pytorch_model.bin` loads, and ``EncoderParameters/storedKey(_:)`` gives
    /// back the file's own key names.
    @Test func loadsPrefixedKeysAndRemembersThePrefix() throws {
        let parameters = try EncoderParameters.load(modelDirectory: EncoderFixtures.tinyModelBin).parameters
        #expect(parameters.keyPrefix == "bert.")
        let store = try openCheckpoint(at: EncoderFixtures.tinyModelBin.appendingPathComponent("pytorch_model.bin"))
        let keys = Set(store.descriptors.map(\.name))
        for entry in parameters.layout.entries {
            let key = parameters.storedKey(entry.name)
            #expect(keys.contains(key), "\(key)")
            #expect(try store.tensor(named: key).scalars == (try parameters.tensor(entry.name)))
        }
    }

    /// No decay for biases and LayerNorm scales and shifts; matrices and embeddings decay.
    @Test func weightDecayFlags() throws {
        let layout = EncoderParameterLayout(shape: try EncoderShape(vocabulary: 50, hidden: 8, layers: 1, heads: 2,
                                                                    intermediate: 12, maxPositions: 16))
        let exempt = Set(layout.entries.filter { !$0.decays }.map(\.name))
        #expect(exempt == Set(layout.entries.map(\.name).filter { $0.hasSuffix(".bias") || $0.contains("LayerNorm.") }))
        #expect(layout.entry("embeddings.word_embeddings.weight")?.decays == true)
        #expect(layout.entry("encoder.layer.0.attention.self.key.weight")?.decays == true)
        #expect(layout.entry("encoder.layer.0.output.LayerNorm.weight")?.decays == false)
        #expect(layout.entry("embeddings.LayerNorm.weight")?.decays == false)
        // The list head's rule is unchanged by BERT's LayerNorm names.
        #expect(!ParameterLayout.decays("list_transformer.layers.0.norm1.weight"))
        #expect(ParameterLayout.decays("list_transformer.layers.0.linear1.weight"))
    }

    /// With dropout off, the training forward's pooled vectors equal the inference encoder's.
    @Test func forwardMatchesTheInferenceEncoder() throws {
        let golden = try EncoderFixtures.tinyGolden()
        let parameters = try EncoderParameters.load(modelDirectory: TrainingFixtures.tinyModel).parameters
        let pooled = try EncoderNetwork(layout: parameters.layout).forward(golden.texts, parameters: parameters).pooled
        let configuration = try JSONDecoder().decode(BertConfiguration.self, from: Data(contentsOf:
            TrainingFixtures.tinyModel.appendingPathComponent("config.json")))
        let weights = NamedWeights(try openCheckpoint(at: TrainingFixtures.tinyModel.appendingPathComponent("model.safetensors")))
        let inference = try BertEncoder(configuration: configuration, weights: weights).meanPooled(golden.texts).scalars
        let error = maxAbsoluteError(pooled, inference)
        #expect(error <= 1e-5, "max |training − inference| \(error)")
    }

    /// Token ids outside the vocabulary, empty texts and texts longer than the positions are
    /// errors, not crashes; so are pooled gradients of the wrong size.
    @Test func refusesBadInput() throws {
        let parameters = try EncoderParameters.load(modelDirectory: TrainingFixtures.tinyModel).parameters
        let network = EncoderNetwork(layout: parameters.layout)
        #expect(throws: TrainingError.self) { try network.forward([[101, 10000, 102]], parameters: parameters) }
        #expect(throws: TrainingError.self) { try network.forward([[101, -1, 102]], parameters: parameters) }
        #expect(throws: TrainingError.self) { try network.forward([[]], parameters: parameters) }
        #expect(throws: TrainingError.self) {
            try network.forward([[Int32](repeating: 5, count: 513)], parameters: parameters)
        }
        let pass = try network.forward([[101, 7, 102]], parameters: parameters)
        var gradients = EncoderGradients(layout: parameters.layout)
        #expect(throws: TrainingError.self) {
            try network.backward(pass, pooledGradients: [1, 2], parameters: parameters, gradients: &gradients)
        }
        #expect(throws: TrainingError.self) { try EncoderDropout(hidden: 1, attention: 0) }
    }

    /// The memory report predicts what a forward pass holds, in every recomputation mode, with and
    /// without dropout; each mode that re-runs more holds less.
    @Test func memoryReportMatchesTheForwardPass() throws {
        let golden = try EncoderFixtures.tinyGolden()
        let parameters = try EncoderParameters.load(modelDirectory: TrainingFixtures.tinyModel).parameters
        let lengths = golden.texts.map(\.count)
        for dropout in [EncoderDropout.off, try EncoderDropout(hidden: 0.1, attention: 0.1)] {
            var saved: [EncoderRecomputation: Int] = [:]
            for recomputation in EncoderRecomputation.allCases {
                let pass = try EncoderNetwork(layout: parameters.layout, dropout: dropout)
                    .forward(golden.texts, parameters: parameters, recomputation: recomputation)
                let report = EncoderActivationMemory(lengths: lengths, shape: parameters.shape, dropout: dropout,
                                                     recomputation: recomputation)
                #expect(report.savedBytes == pass.savedActivationBytes, "dropout \(dropout), \(recomputation)")
                #expect(report.peakBytes > report.savedBytes)
                saved[recomputation] = report.savedBytes
            }
            #expect(try #require(saved[.layers]) < (try #require(saved[.attention])))
            #expect(try #require(saved[.attention]) < (try #require(saved[.none])))
        }
    }
    /// A source that renames LayerNorm scales and shifts to the older gamma/beta, or adds a key.
    struct EditedWeights: WeightSource {
        let base: NamedWeights
        var legacyNames = false
        var extraKey: String?

        private func baseName(_ name: String) -> String {
            guard legacyNames, name.contains("LayerNorm.") else { return name }
            if name.hasSuffix(".gamma") { return String(name.dropLast("gamma".count)) + "weight" }
            if name.hasSuffix(".beta") { return String(name.dropLast("beta".count)) + "bias" }
            return name.hasSuffix(".weight") || name.hasSuffix(".bias") ? "absent" : name
        }
        func tensor(_ name: String, shape: [Int]) throws -> Tensor {
            try base.tensor(baseName(name), shape: shape)
        }
        func shape(of name: String) -> [Int]? { base.shape(of: baseName(name)) }
        var names: [String] {
            base.names.map { name in
                guard legacyNames, name.contains("LayerNorm.") else { return name }
                return name.hasSuffix(".weight") ? String(name.dropLast("weight".count)) + "gamma"
                                                 : String(name.dropLast("bias".count)) + "beta"
            } + (extraKey.map { [$0] } ?? [])
        }
        var origin: String { base.origin }
    }

    /// LayerNorms stored as gamma/beta load into the same layout; a key the encoder does not use
    /// (outside the pooler and task heads) is refused rather than dropped.
    @Test func legacyLayerNormNamesLoadAndUnknownKeysAreRefused() throws {
        let (reference, configuration) = try EncoderParameters.load(modelDirectory: TrainingFixtures.tinyModel)
        let base = NamedWeights(try openCheckpoint(at: TrainingFixtures.tinyModel.appendingPathComponent("model.safetensors")))
        let legacy = try EncoderParameters.load(shape: configuration.shape, weights: EditedWeights(base: base, legacyNames: true))
        #expect(legacy.values == reference.values)
        #expect(throws: TrainingError.self) {
            try EncoderParameters.load(shape: configuration.shape,
                                       weights: EditedWeights(base: base, extraKey: "encoder.layer.0.attention.self.rotary.weight"))
        }
        // The pooler is not a parameter, and is allowed.
        _ = try EncoderParameters.load(shape: configuration.shape, weights: EditedWeights(base: base, extraKey: "pooler.dense.weight"))
    }
}
