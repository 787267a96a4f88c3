import Foundation
import ListConRanker
import Testing
@testable import ListConRankerTraining

/// The encoder backward on the real m3e-small (hidden 512, 4 layers, 8 heads, intermediate
/// 2048; `.models/m3e-small`, fetched by `tools/fetch-test-models.sh`) for one list of a query
/// and three passages, against BertModel autograd in float64
/// (`tools/reference/make_encoder_gradient_fixtures.py m3e`). The committed golden holds each
/// tensor's gradient norm and 48 sampled entries (the full gradients are too large to commit);
/// `m3e-full OUT.safetensors` writes them all, and with `ENCODER_GRADIENT_FULL_GOLDEN=OUT.safetensors`
/// set this test also compares every element.
@Suite(.enabled(if: EncoderFixtures.realModelTestsRun("m3e-small"), "needs .models/m3e-small"))
struct EncoderM3EGradientTests {
    @Test func gradientsMatchPyTorch() throws {
        let directory = try #require(EncoderFixtures.downloadedModel("m3e-small"), "run tools/fetch-test-models.sh")
        let golden = try EncoderFixtures.m3eGolden()
        let (parameters, _) = try EncoderParameters.load(modelDirectory: directory)
        let network = EncoderNetwork(layout: parameters.layout)
        let pass = try network.forward(golden.texts, parameters: parameters, recomputation: .attention)
        var gradients = EncoderGradients(layout: parameters.layout)
        try network.backward(pass, pooledGradients: golden.projection, parameters: parameters, gradients: &gradients)

        let pooledError = maxAbsoluteError(pass.pooled, golden.pooled)
        #expect(pooledError <= 1e-5, "max |pooled − torch| \(pooledError)")
        let loss = projectionLoss(pass.pooled, golden.projection)
        #expect(abs(loss - golden.loss) <= 1e-5 * max(1, abs(golden.loss)), "loss \(loss) against \(golden.loss)")

        #expect(Set(golden.tensors.keys) == Set(parameters.layout.entries.map(\.name)))
        var worstNorm = 0.0, worstSample = 0.0, worstResidue = 0.0
        for entry in parameters.layout.entries {
            let expected = try #require(golden.tensors[entry.name])
            let ours = try gradients.tensor(entry.name)
            let norm = norm(ours)
            if EncoderFixtures.isKeyBias(entry.name) {
                let keyWeight = try #require(golden.tensors[EncoderFixtures.keyWeight(ofKeyBias: entry.name)])
                let residue = norm / keyWeight.norm
                #expect(residue <= EncoderFixtures.keyBiasResidueBound, "\(entry.name): ‖gradient‖ \(residue) of the key weight's")
                worstResidue = max(worstResidue, residue)
                continue
            }
            let normError = abs(norm - expected.norm) / expected.norm
            #expect(normError <= 1e-4, "\(entry.name): norm \(norm) against \(expected.norm)")
            // The sampled entries as a vector: ‖ours − torch‖/‖torch‖ over the samples.
            let sampleError = relativeError(expected.indices.map { ours[$0] }, expected.values)
            #expect(sampleError <= 1e-4, "\(entry.name): sampled entries' relative error \(sampleError)")
            worstNorm = max(worstNorm, normError)
            worstSample = max(worstSample, sampleError)
        }
        print("m3e-small encoder: max |pooled − torch| \(pooledError); worst norm error \(worstNorm), "
            + "worst sampled relative error \(worstSample); key-bias residue \(worstResidue) of the key weight's gradient")

        guard let full = ProcessInfo.processInfo.environment["ENCODER_GRADIENT_FULL_GOLDEN"], !full.isEmpty else { return }
        let store = try openCheckpoint(at: URL(fileURLWithPath: full))
        var worst: [String: Double] = [:]
        for entry in parameters.layout.entries {
            let expected = try store.tensor(named: entry.name).scalars
            guard !EncoderFixtures.isKeyBias(entry.name) else { continue }   // checked above
            let error = relativeError(try gradients.tensor(entry.name), expected)
            #expect(error <= 1e-4, "\(entry.name): relative error \(error)")
            let kind = EncoderFixtures.kind(entry.name)
            worst[kind] = max(worst[kind] ?? 0, error)
        }
        for (kind, error) in worst.sorted(by: { $0.key < $1.key }) {
            print("m3e-small full gradient \(kind): max relative error \(error)")
        }
    }
}
