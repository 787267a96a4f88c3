import Foundation
import ListConRanker

/// The encoder's part of a stage-2 run: its fp32 master parameters, gradients and AdamW state,
/// the training network (dropout as BERT's config gives it), and the tokenizer with each text's
/// ids computed once. The trainer asks it for the pooled vectors of a micro-batch's texts, hands
/// back their gradient, and steps it together with the list head.
///
/// Evaluation runs the inference ``BertEncoder`` on the current parameters (``evaluationVectors()``),
/// so dev metrics are those of the code that will serve the checkpoint.
final class EncoderTraining {
    let configuration: BertConfiguration
    let network: EncoderNetwork
    var parameters: EncoderParameters
    var gradients: EncoderGradients
    var optimizer: AdamW
    let recomputation: EncoderRecomputation
    private let tokenizer: BertTokenizer
    private let maxLength: Int
    private var tokenIDs: [String: [Int32]] = [:]

    /// Loads the encoder of `directory` (a BERT or ListConRanker directory).
    init(directory: URL, maxLength: Int, weightDecay: Float, recomputation: EncoderRecomputation?) throws {
        let loaded = try EncoderParameters.load(modelDirectory: directory)
        configuration = loaded.configuration.bert
        do {
            tokenizer = try BertTokenizer(directory: directory)
        } catch {
            throw TrainingError.badWeights("\(directory.path): \(error)")
        }
        guard maxLength <= loaded.parameters.shape.maxPositions else {
            throw TrainingError.invalidInput("max length \(maxLength) exceeds the encoder's \(loaded.parameters.shape.maxPositions) positions")
        }
        parameters = loaded.parameters
        network = EncoderNetwork(layout: loaded.parameters.layout, dropout: loaded.configuration.dropout)
        gradients = EncoderGradients(layout: loaded.parameters.layout)
        optimizer = try AdamW(entries: loaded.parameters.layout.entries, count: loaded.parameters.layout.count,
                              weightDecay: weightDecay)
        self.recomputation = recomputation ?? .automatic(hidden: loaded.parameters.shape.hidden)
        self.maxLength = maxLength
    }

    var hidden: Int { parameters.shape.hidden }
    var parameterCount: Int { parameters.layout.count }

    /// `text`'s token ids (`[CLS] … [SEP]`, truncated to the run's max length), computed once.
    func ids(_ text: String) -> [Int32] {
        if let ids = tokenIDs[text] { return ids }
        let ids = tokenizer.encode(text, maxLength: maxLength).ids
        tokenIDs[text] = ids
        return ids
    }

    /// Runs the training forward on `texts`; the pass's ``EncoderForwardPass/pooled`` feeds the head.
    func forward(_ texts: [String], dropoutSeed: UInt64) throws -> EncoderForwardPass {
        try network.forward(texts.map(ids), parameters: parameters, dropoutSeed: dropoutSeed,
                            recomputation: recomputation)
    }

    /// Accumulates the encoder's gradients given the loss's gradient with respect to `pass`'s pooled vectors.
    /// `finished` hears of each part whose gradients are complete (see ``EncoderNetwork/backward(_:pooledGradients:parameters:gradients:finished:)``).
    func backward(_ pass: EncoderForwardPass, pooledGradients: [Float],
                  finished: ((_ part: Int, _ gradients: UnsafePointer<Float>) throws -> Void)? = nil) throws {
        try network.backward(pass, pooledGradients: pooledGradients, parameters: parameters, gradients: &gradients,
                             finished: finished)
    }

    /// Takes the AdamW step on the encoder's parameters.
    func update(learningRate: Float) throws {
        try optimizer.update(values: &parameters.values, gradients: gradients.values, learningRate: learningRate)
    }

    /// Pooled vectors from the inference encoder built on the current parameters (dropout off) on
    /// `device` (where the run trains: a GPU run's dev texts are encoded there too), for the dev
    /// evaluation.
    func evaluationVectors(device: Device = .cpu) throws -> HeadEvaluator.PooledVectors {
        let encoder: BertEncoder
        do {
            encoder = try BertEncoder(configuration: configuration, weights: EncoderParameterWeights(parameters),
                                      device: device)
        } catch {
            throw TrainingError.badWeights("the trained encoder does not load for inference: \(error)")
        }
        return { [self] texts in try encoder.meanPooled(texts.map(ids)).scalars }
    }
}

/// The trained parameters as a ``WeightSource`` under their `BertModel` names, so the unchanged
/// inference ``BertEncoder`` can be built on them.
struct EncoderParameterWeights: WeightSource {
    let parameters: EncoderParameters

    init(_ parameters: EncoderParameters) { self.parameters = parameters }

    func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        guard let entry = parameters.layout.entry(name) else {
            throw TrainingError.badWeights("no trained tensor \(name)")
        }
        guard entry.shape == shape else {
            throw TrainingError.badWeights("trained tensor \(name) has shape \(entry.shape), expected \(shape)")
        }
        return Tensor(shape: shape, scalars: Array(parameters.values[entry.range]))
    }

    func shape(of name: String) -> [Int]? { parameters.layout.entry(name)?.shape }
    var names: [String] { parameters.layout.entries.map(\.name) }
    var origin: String { "the encoder being trained" }
}
