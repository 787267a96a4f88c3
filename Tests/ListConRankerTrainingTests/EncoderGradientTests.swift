import Foundation
import Testing
@testable import ListConRankerTraining

/// The encoder's training forward and hand-written backward against PyTorch autograd on
/// transformers' BertModel (`encoder-gradient-goldens.json`: the tiny model, texts of 5, 9 and
/// 17 tokens, dropout off, L = Σ pooled ⊙ R, goldens in float64).
@Suite struct EncoderGradientTests {
    struct Run {
        let golden: EncoderFixtures.TinyGolden
        let parameters: EncoderParameters
        let pass: EncoderForwardPass
        let gradients: EncoderGradients
    }

    static func run(_ recomputation: EncoderRecomputation = .none) throws -> Run {
        let golden = try EncoderFixtures.tinyGolden()
        let parameters = try EncoderParameters.load(modelDirectory: TrainingFixtures.tinyModel).parameters
        let network = EncoderNetwork(layout: parameters.layout)
        let pass = try network.forward(golden.texts, parameters: parameters, recomputation: recomputation)
        var gradients = EncoderGradients(layout: parameters.layout)
        try network.backward(pass, pooledGradients: golden.projection, parameters: parameters, gradients: &gradients)
        return Run(golden: golden, parameters: parameters, pass: pass, gradients: gradients)
    }

    /// Pooled vectors to 1e-5 of PyTorch's, and so the loss.
    @Test func pooledVectorsMatchPyTorch() throws {
        let run = try Self.run()
        let error = maxAbsoluteError(run.pass.pooled, run.golden.pooled)
        #expect(error <= 1e-5, "max |pooled − torch| \(error)")
        let loss = projectionLoss(run.pass.pooled, run.golden.projection)
        #expect(abs(loss - run.golden.loss) <= 1e-5 * max(1, abs(run.golden.loss)), "loss \(loss) against \(run.golden.loss)")
        print("encoder pooled: max |ours − torch| \(error); loss \(loss) against \(run.golden.loss)")
    }

    /// Every encoder parameter's gradient within ‖ours − torch‖/‖torch‖ ≤ 1e-4 (the key biases,
    /// whose true gradient is zero, see ``EncoderFixtures/isKeyBias(_:)``).
    @Test func everyParameterGradientMatchesPyTorch() throws {
        let run = try Self.run()
        let recorded = Set(run.golden.gradients.keys).union(run.golden.sparse_gradients.keys)
        #expect(recorded == Set(run.parameters.layout.entries.map(\.name)))
        var worst: [String: Double] = [:]
        for entry in run.parameters.layout.entries {
            let expected = try #require(run.golden.expected(entry), "\(entry.name) not in the golden")
            let kind = EncoderFixtures.kind(entry.name)
            if EncoderFixtures.isKeyBias(entry.name) {
                let keyWeight = try #require(run.golden.gradients[EncoderFixtures.keyWeight(ofKeyBias: entry.name)])
                let residue = norm(try run.gradients.tensor(entry.name)) / norm(keyWeight)
                #expect(residue <= EncoderFixtures.keyBiasResidueBound, "\(entry.name): ‖gradient‖ \(residue) of the key weight's")
                worst[kind + " (residue / ‖key weight‖)"] = max(worst[kind + " (residue / ‖key weight‖)"] ?? 0, residue)
                continue
            }
            let error = relativeError(try run.gradients.tensor(entry.name), expected)
            #expect(error <= 1e-4, "\(entry.name): relative error \(error)")
            worst[kind] = max(worst[kind] ?? 0, error)
        }
        for (kind, error) in worst.sorted(by: { $0.key < $1.key }) {
            print("encoder gradient \(kind): max relative error \(error)")
        }
    }

    /// Only the word-embedding rows of the texts' tokens, the position rows up to the longest
    /// text, and token type 0 get gradient; every other row is exactly zero.
    @Test func onlyUsedEmbeddingRowsGetGradient() throws {
        let run = try Self.run()
        let h = run.parameters.shape.hidden
        func rowsWithGradient(_ name: String) throws -> Set<Int> {
            let values = try run.gradients.tensor(name)
            return Set((0..<values.count / h).filter { row in values[row * h..<(row + 1) * h].contains { $0 != 0 } })
        }
        let used = Set(run.golden.texts.flatMap { $0 }.map(Int.init))
        #expect(try rowsWithGradient("embeddings.word_embeddings.weight") == used)
        let longest = run.golden.texts.map(\.count).max() ?? 0
        #expect(try rowsWithGradient("embeddings.position_embeddings.weight") == Set(0..<longest))
        #expect(try rowsWithGradient("embeddings.token_type_embeddings.weight") == [0])
    }

    /// Re-running each layer's attention block, or the whole layer, in the backward gives bitwise
    /// the same gradients and pooled vectors, keeping less.
    @Test(arguments: [EncoderRecomputation.attention, .layers])
    func recomputationGivesIdenticalGradients(_ recomputation: EncoderRecomputation) throws {
        let kept = try Self.run(), recomputed = try Self.run(recomputation)
        #expect(kept.pass.pooled == recomputed.pass.pooled)
        #expect(kept.gradients.values == recomputed.gradients.values)
        #expect(recomputed.pass.savedActivationBytes < kept.pass.savedActivationBytes)
    }

    /// Backward accumulates: two backward passes of one forward give twice the gradient.
    @Test func backwardAccumulates() throws {
        let run = try Self.run()
        let network = EncoderNetwork(layout: run.parameters.layout)
        var twice = run.gradients
        try network.backward(run.pass, pooledGradients: run.golden.projection, parameters: run.parameters,
                             gradients: &twice)
        #expect(relativeError(twice.values, run.gradients.values.map { 2 * $0 }) < 1e-6)
    }
}
