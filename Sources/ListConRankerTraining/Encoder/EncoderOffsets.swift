/// Offsets of the encoder's tensors in a flat buffer laid out by ``EncoderParameterLayout``
/// (parameters and gradients alike), looked up once so the forward and backward name tensors,
/// not strings.
struct EncoderOffsets {
    struct Linear { let weight: Int; let bias: Int }
    struct Norm { let weight: Int; let bias: Int }
    struct Layer {
        let qkv: Linear            // query, key, value weights adjacent: [3H, H]; biases adjacent: [3H]
        let attentionOutput: Linear // [H, H], [H]
        let attentionNorm: Norm
        let intermediate: Linear   // [F, H], [F]
        let output: Linear         // [H, F], [H]
        let outputNorm: Norm
    }

    let words: Int                 // [vocabulary, H]
    let positions: Int             // [maxPositions, H]
    let tokenTypes: Int            // [tokenTypes, H]; row 0 used
    let embeddingNorm: Norm
    let layers: [Layer]

    init(layout: EncoderParameterLayout) {
        func linear(_ prefix: String) -> Linear {
            Linear(weight: layout.offset("\(prefix).weight"), bias: layout.offset("\(prefix).bias"))
        }
        func norm(_ prefix: String) -> Norm {
            Norm(weight: layout.offset("\(prefix).weight"), bias: layout.offset("\(prefix).bias"))
        }
        words = layout.offset("embeddings.word_embeddings.weight")
        positions = layout.offset("embeddings.position_embeddings.weight")
        tokenTypes = layout.offset("embeddings.token_type_embeddings.weight")
        embeddingNorm = norm("embeddings.LayerNorm")
        layers = (0..<layout.shape.layers).map { i in
            let p = EncoderParameterLayout.layerPrefix(i)
            // The layout puts key and value right after query (weights, then biases): the query
            // offsets address the fused [3H, H] matrix and [3H] bias.
            return Layer(qkv: linear("\(p)attention.self.query"), attentionOutput: linear("\(p)attention.output.dense"),
                         attentionNorm: norm("\(p)attention.output.LayerNorm"),
                         intermediate: linear("\(p)intermediate.dense"), output: linear("\(p)output.dense"),
                         outputNorm: norm("\(p)output.LayerNorm"))
        }
    }
}
