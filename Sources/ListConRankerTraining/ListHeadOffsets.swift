/// Offsets of the list head's tensors in a flat buffer laid out by ``ParameterLayout``
/// (parameters and gradients alike), looked up once so the forward and backward name
/// tensors, not strings.
struct ListHeadOffsets {
    struct Linear { let weight: Int; let bias: Int }
    struct Norm { let weight: Int; let bias: Int }
    struct Layer {
        let inProjection: Linear   // [3W, W], [3W]
        let outProjection: Linear  // [W, W], [W]
        let linear1: Linear        // [F, W], [F]
        let linear2: Linear        // [W, F], [W]
        let norm1: Norm
        let norm2: Norm
    }

    let inputEmbedding: Linear     // linear_in_embedding: [W, H], [W]
    let tags: Int                  // query_embedding.query_embedding.weight [2, W]
    let tagNorm: Norm              // query_embedding.layerNorm
    let layers: [Layer]
    let score1: Linear             // [1, 2W], [1]
    let score2: Linear             // [W, 2W], [W]
    let score3: Linear             // [W, 2W], [W]

    /// Every name asked for here is one that ``ParameterLayout/init(shape:)`` lays out.
    init(layout: ParameterLayout) {
        func linear(_ prefix: String) -> Linear {
            Linear(weight: layout.offset("\(prefix).weight"), bias: layout.offset("\(prefix).bias"))
        }
        func norm(_ prefix: String) -> Norm {
            Norm(weight: layout.offset("\(prefix).weight"), bias: layout.offset("\(prefix).bias"))
        }
        inputEmbedding = linear("linear_in_embedding")
        tags = layout.offset("query_embedding.query_embedding.weight")
        tagNorm = norm("query_embedding.layerNorm")
        layers = (0..<layout.shape.layers).map { i in
            let p = "list_transformer.layers.\(i)"
            return Layer(inProjection: Linear(weight: layout.offset("\(p).self_attn.in_proj_weight"),
                                              bias: layout.offset("\(p).self_attn.in_proj_bias")),
                         outProjection: linear("\(p).self_attn.out_proj"),
                         linear1: linear("\(p).linear1"), linear2: linear("\(p).linear2"),
                         norm1: norm("\(p).norm1"), norm2: norm("\(p).norm2"))
        }
        score1 = linear("linear_score1")
        score2 = linear("linear_score2")
        score3 = linear("linear_score3")
    }
}
