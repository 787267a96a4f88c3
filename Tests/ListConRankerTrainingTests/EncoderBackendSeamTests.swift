import Foundation
import Testing
@testable import ListConRankerTraining

/// The encoder's one forward/backward, generic over `TrainingBackend` (issue 30, stage 2), on
/// `CPUTrainingBackend` gives bit for bit what the CPU-only encoder gave before it (kept in
/// `LegacyEncoder/`): pooled vectors and every gradient, with dropout off and on, in every
/// recomputation mode, with gradients accumulated over two micro-batches.
@Suite struct EncoderBackendSeamTests {
    @Test(arguments: [false, true])
    func theGenericPassIsTheCPUPassBitForBit(dropout: Bool) throws {
        let golden = try EncoderFixtures.tinyGolden()
        let parameters = try EncoderParameters.load(modelDirectory: TrainingFixtures.tinyModel).parameters
        let network = EncoderNetwork(layout: parameters.layout,
                                     dropout: dropout ? try EncoderDropout(hidden: 0.2, attention: 0.15) : .off)
        let halves = [Array(golden.texts.prefix(2)), Array(golden.texts.dropFirst(2))]
        let h = parameters.shape.hidden
        for recomputation in EncoderRecomputation.allCases {
            var generic = EncoderGradients(layout: parameters.layout), legacy = generic
            for (index, texts) in halves.enumerated() {
                let seed = UInt64(31 + index)
                let weights = Array(golden.projection[(index == 0 ? 0 : 2 * h)...].prefix(texts.count * h))
                let pass = try network.forward(texts, parameters: parameters, dropoutSeed: seed,
                                               recomputation: recomputation)
                let old = try network.legacyForward(texts, parameters: parameters, dropoutSeed: seed,
                                                    recomputation: recomputation)
                #expect(differingBits(pass.pooled, old.pooled) == 0, "\(recomputation), micro-batch \(index)")
                // `--recompute` keeps each layer's first LayerNorm output (Float32 on the CPU) and its two
                // statistics, which the legacy encoder re-ran in the backward; the same bits either way.
                let tokens = texts.reduce(0) { $0 + $1.count }
                let keptLayerNorm = recomputation == .attention ? parameters.shape.layers * 4 * tokens * (h + 2) : 0
                #expect(pass.savedActivationBytes == old.savedActivationBytes + keptLayerNorm, "\(recomputation)")
                try network.backward(pass, pooledGradients: weights, parameters: parameters, gradients: &generic)
                try network.legacyBackward(old, pooledGradients: weights, parameters: parameters, gradients: &legacy)
            }
            #expect(generic.values.contains { $0 != 0 })
            #expect(differingBits(generic.values, legacy.values) == 0, "\(recomputation): gradients differ")
        }
    }

    /// Elements whose bits differ (and the count difference): 0 when the arrays are the same bit for bit.
    func differingBits(_ a: [Float], _ b: [Float]) -> Int {
        zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count + abs(a.count - b.count)
    }

    /// `finished` hears of the same parts in the same order, with the gradients' address, as before.
    @Test func partsFinishInTheSameOrder() throws {
        let golden = try EncoderFixtures.tinyGolden()
        let parameters = try EncoderParameters.load(modelDirectory: TrainingFixtures.tinyModel).parameters
        let network = EncoderNetwork(layout: parameters.layout)
        var gradients = EncoderGradients(layout: parameters.layout)
        var parts: [Int] = []
        let pass = try network.forward(golden.texts, parameters: parameters)
        try network.backward(pass, pooledGradients: golden.projection, parameters: parameters, gradients: &gradients) {
            part, _ in parts.append(part)
        }
        #expect(parts == Array((0..<parameters.shape.layers).reversed()) + [-1])
    }
}
