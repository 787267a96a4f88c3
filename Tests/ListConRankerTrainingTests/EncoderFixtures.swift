import Foundation
@testable import ListConRankerTraining

/// The encoder-gradient goldens of `tools/reference/make_encoder_gradient_fixtures.py` and the
/// real models the encoder tests may use.
enum EncoderFixtures {
    /// `encoder-gradient-goldens.json`: the tiny model, texts of 5, 9 and 17 tokens, every
    /// gradient (word and position embeddings as their used rows).
    struct TinyGolden: Decodable {
        struct Rows: Decodable {
            let rows: [Int]
            let values: [Float]
        }
        let texts: [[Int32]]
        let hidden: Int
        let projection: [Float]
        let loss: Double
        let pooled: [Float]
        let gradients: [String: [Float]]
        let sparse_gradients: [String: Rows]

        /// The full expected gradient of `entry` (rows not recorded are zero), or nil if absent.
        func expected(_ entry: ParameterLayout.Entry) -> [Float]? {
            if let dense = gradients[entry.name] { return dense }
            guard let sparse = sparse_gradients[entry.name] else { return nil }
            let width = entry.shape[1]
            var full = [Float](repeating: 0, count: entry.count)
            for (k, row) in sparse.rows.enumerated() {
                full.replaceSubrange(row * width..<(row + 1) * width, with: sparse.values[k * width..<(k + 1) * width])
            }
            return full
        }
    }

    /// `encoder-gradient-m3e-small.json`: per tensor the gradient's norm and sampled entries.
    struct SampledGolden: Decodable {
        struct Tensor: Decodable {
            let norm: Double
            let indices: [Int]
            let values: [Float]
        }
        let texts: [[Int32]]
        let hidden: Int
        let projection: [Float]
        let loss: Double
        let pooled: [Float]
        let tensors: [String: Tensor]
    }

    static func tinyGolden() throws -> TinyGolden {
        try JSONDecoder().decode(TinyGolden.self, from: Data(contentsOf: TrainingFixtures.root
            .appendingPathComponent("encoder-gradient-goldens.json")))
    }

    static func m3eGolden() throws -> SampledGolden {
        try JSONDecoder().decode(SampledGolden.self, from: Data(contentsOf: TrainingFixtures.root
            .appendingPathComponent("encoder-gradient-m3e-small.json")))
    }

    /// The tiny model's tiny-model-bin twin: `pytorch_model.bin` with `bert.`-prefixed keys.
    static let tinyModelBin = TrainingFixtures.repositoryRoot
        .appendingPathComponent("Tests/ListConRankerTests/Fixtures/tiny-model-bin", isDirectory: true)

    /// A real model unpacked by `tools/fetch-test-models.sh` into `.models/NAME`, or nil.
    static func downloadedModel(_ name: String) -> URL? {
        let url = TrainingFixtures.repositoryRoot.appendingPathComponent(".models/\(name)", isDirectory: true)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// Whether tests of real model `name` run: where it was fetched, and always in CI (the `CI`
    /// variable set), where a missing model must fail the test, not skip it (as the inference
    /// tests decide).
    static func realModelTestsRun(_ name: String) -> Bool {
        ProcessInfo.processInfo.environment["CI"] != nil || downloadedModel(name) != nil
    }

    /// Whether `name` is an attention key bias, whose gradient is zero in exact arithmetic: it adds
    /// `q_i · b_k` to every score of row i alike, and softmax ignores a constant per row. PyTorch in
    /// float64 leaves ~1e-15 of rounding there, float32 ~1e-7, so a relative error against it
    /// measures noise against noise. Tests hold it instead to ``keyBiasResidueBound`` of the
    /// gradient of the same layer's key weight (measured ~2e-8 on both goldens).
    static func isKeyBias(_ name: String) -> Bool { name.hasSuffix("attention.self.key.bias") }

    /// The key bias's gradient norm must be within this fraction of the key weight's.
    static let keyBiasResidueBound = 1e-6

    /// The key weight of the layer of key bias `name`.
    static func keyWeight(ofKeyBias name: String) -> String { String(name.dropLast("bias".count)) + "weight" }

    /// The kind of tensor `name` is, for reporting the worst error per kind.
    static func kind(_ name: String) -> String {
        let stripped = name.split(separator: ".").filter { Int($0) == nil }.joined(separator: ".")
        return stripped.replacingOccurrences(of: "encoder.layer.", with: "")
    }
}

/// The loss L = Σ pooled ⊙ R and its gradient with respect to the pooled vectors (R itself).
func projectionLoss(_ pooled: [Float], _ projection: [Float]) -> Double {
    zip(pooled, projection).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
}
