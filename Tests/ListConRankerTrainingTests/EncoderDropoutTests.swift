import Foundation
import Testing
@testable import ListConRankerTraining

/// The encoder with dropout on (tiny model, the golden's texts): masks are a function of the
/// seed, recomputation redraws them exactly, and the backward is the derivative of the forward
/// that drew them (central differences).
@Suite struct EncoderDropoutTests {
    static func setUp(hidden: Float = 0.1, attention: Float = 0.1) throws
        -> (EncoderParameters, EncoderNetwork, EncoderFixtures.TinyGolden) {
        let golden = try EncoderFixtures.tinyGolden()
        let parameters = try EncoderParameters.load(modelDirectory: TrainingFixtures.tinyModel).parameters
        let network = EncoderNetwork(layout: parameters.layout, dropout: try EncoderDropout(hidden: hidden, attention: attention))
        return (parameters, network, golden)
    }

    /// Dropout changes the pooled vectors, repeats for one seed, and changes with the seed; its
    /// masks drop about p of the elements and scale the rest by 1/(1 − p).
    @Test func masksAreSeededAndActive() throws {
        let (parameters, network, golden) = try Self.setUp(hidden: 0.3, attention: 0.2)
        let plain = try EncoderNetwork(layout: parameters.layout).forward(golden.texts, parameters: parameters).pooled
        let a = try network.forward(golden.texts, parameters: parameters, dropoutSeed: 7)
        #expect(a.pooled == (try network.forward(golden.texts, parameters: parameters, dropoutSeed: 7).pooled))
        #expect(a.pooled != (try network.forward(golden.texts, parameters: parameters, dropoutSeed: 8).pooled))
        #expect(a.pooled != plain)

        let hiddenMasks = try #require(a.embeddingMask).array + a.layers.flatMap {
            (($0.attentionMask?.array) ?? []) + (($0.outputMask?.array) ?? [])
        }
        #expect(Set(hiddenMasks) == [0, 1 / (1 - Float(0.3))])
        let dropped = Double(hiddenMasks.filter { $0 == 0 }.count) / Double(hiddenMasks.count)
        #expect(abs(dropped - 0.3) < 0.05, "hidden dropout dropped \(dropped) of \(hiddenMasks.count)")
        let probabilityMasks = a.layers.flatMap { $0.probabilityMask?.array ?? [] }
        #expect(Set(probabilityMasks) == [0, 1 / (1 - Float(0.2))])
        let droppedProbabilities = Double(probabilityMasks.filter { $0 == 0 }.count) / Double(probabilityMasks.count)
        #expect(abs(droppedProbabilities - 0.2) < 0.05, "attention dropout dropped \(droppedProbabilities)")
        // Different sites and layers draw different masks from one seed.
        #expect(a.layers[0].attentionMask?.array != a.layers[0].outputMask?.array)
        #expect(a.layers[0].outputMask?.array != a.layers[1].outputMask?.array)
    }

    /// Every mask is the Philox stream of its (site, layer) under the pass's seed, element i of the
    /// mask element i of the stream (the attention probabilities' one stream over the whole store,
    /// text after text and head after head): what a GPU draws with the same kernel, and what
    /// recomputation redraws.
    @Test func masksArePhiloxStreamsOfSiteAndLayer() throws {
        let (parameters, network, golden) = try Self.setUp(hidden: 0.3, attention: 0.2)
        let seed: UInt64 = 0x1234_5678_9ABC
        let pass = try network.forward(golden.texts, parameters: parameters, dropoutSeed: seed)
        func philox(_ count: Int, _ p: Float, _ site: EncoderNetwork.DropoutSite, _ layer: Int) -> [Float] {
            var mask = [Float](repeating: -1, count: count)
            mask.withUnsafeMutableBufferPointer {
                Philox.dropoutMask($0.baseAddress!, count: count, probability: p, seed: seed,
                                   stream: EncoderNetwork.dropoutStream(site: site, layer: layer))
            }
            return mask
        }
        let embedding = try #require(pass.embeddingMask).array
        #expect(embedding == philox(embedding.count, 0.3, .embeddings, 0))
        #expect(pass.layers.count == parameters.shape.layers)
        for (l, layer) in pass.layers.enumerated() {
            let attention = try #require(layer.attentionMask).array, output = try #require(layer.outputMask).array
            let probabilities = try #require(layer.probabilityMask).array
            #expect(attention == philox(attention.count, 0.3, .attentionOutput, l), "layer \(l)")
            #expect(output == philox(output.count, 0.3, .output, l), "layer \(l)")
            #expect(probabilities == philox(probabilities.count, 0.2, .attentionProbabilities, l), "layer \(l)")
        }
    }

    /// With dropout on, either recomputation gives bitwise the same pooled vectors and gradients
    /// (the attention block's re-run redraws the output dropout mask it did not keep).
    @Test func recomputationRedrawsTheSameMasks() throws {
        let (parameters, network, golden) = try Self.setUp()
        var results: [([Float], [Float])] = []
        for recomputation in EncoderRecomputation.allCases {
            let pass = try network.forward(golden.texts, parameters: parameters, dropoutSeed: 11,
                                           recomputation: recomputation)
            var gradients = EncoderGradients(layout: parameters.layout)
            try network.backward(pass, pooledGradients: golden.projection, parameters: parameters, gradients: &gradients)
            results.append((pass.pooled, gradients.values))
        }
        #expect(results.count == 3)
        for result in results.dropFirst() {
            #expect(result.0 == results[0].0)
            #expect(result.1 == results[0].1)
        }
        #expect(results[0].1.contains { $0 != 0 })
    }

    /// Central differences of L = Σ pooled ⊙ R with the masks fixed by the seed, against the
    /// backward, on the first, middle and last element of every tensor (the embeddings: of the
    /// rows used). The network is smooth (GELU, softmax, LayerNorm), so no element is skipped;
    /// float32 forwards limit the agreement to about 1e-2 relative.
    @Test func backwardMatchesCentralDifferencesWithDropout() throws {
        let (loaded, network, golden) = try Self.setUp(hidden: 0.2, attention: 0.2)
        var parameters = loaded
        let seed: UInt64 = 5
        func loss(_ p: EncoderParameters) throws -> Double {
            projectionLoss(try network.forward(golden.texts, parameters: p, dropoutSeed: seed).pooled, golden.projection)
        }
        let pass = try network.forward(golden.texts, parameters: parameters, dropoutSeed: seed)
        var gradients = EncoderGradients(layout: parameters.layout)
        try network.backward(pass, pooledGradients: golden.projection, parameters: parameters, gradients: &gradients)

        let h = parameters.shape.hidden
        var checked = 0, worst = 0.0
        for entry in parameters.layout.entries {
            var elements = [entry.offset, entry.offset + entry.count / 2, entry.offset + entry.count - 1]
            if entry.name == "embeddings.word_embeddings.weight" {
                let id = Int(golden.texts[2][3])           // used twice in one text
                elements = [entry.offset + id * h, entry.offset + id * h + h - 1]
            } else if entry.name == "embeddings.position_embeddings.weight" {
                elements = [entry.offset, entry.offset + 16 * h + 3]
            }
            for i in Set(elements) {
                let step: Float = 1e-2
                let saved = parameters.values[i]
                parameters.values[i] = saved + step
                let up = try loss(parameters)
                parameters.values[i] = saved - step
                let down = try loss(parameters)
                parameters.values[i] = saved
                let numeric = (up - down) / Double(2 * step)
                let analytic = Double(gradients.values[i])
                let error = abs(numeric - analytic) / max(1e-2, abs(numeric) + abs(analytic))
                worst = max(worst, error)
                #expect(error < 1e-2, "\(entry.name)[\(i - entry.offset)]: numeric \(numeric), analytic \(analytic)")
                checked += 1
            }
        }
        #expect(checked > 90)
        print("encoder finite differences with dropout: \(checked) elements, worst relative error \(worst)")
    }
}
