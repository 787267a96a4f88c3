/// ListConRanker's list head: a tagged, normalised copy of each list's features goes through
/// post-norm transformer layers under the ListAttention mask, and the score head combines
/// features from before (`f`) and after (`g`) the transformer:
/// `logit_i = linear_score1([ReLU(linear_score2([f_0; f_i])); ReLU(linear_score3([g_0; g_i]))])`.
public final class ListTransformer: @unchecked Sendable {
    /// Width of the list features (1792 in the published model).
    public let width: Int
    /// Attention heads (the BERT config's `num_attention_heads`).
    public let heads: Int
    private let tags: [Float]                // [2, width]: row 1 tags the query, row 0 passages
    private let tagNorm: LayerNormParameters // eps 1e-5 (nn.LayerNorm's default)
    private let layers: [Layer]
    private let scorePre: Linear             // linear_score2: [f_0; f_i] → width
    private let scorePost: Linear            // linear_score3: [g_0; g_i] → width
    private let scoreOut: Linear             // linear_score1: [a; b] → 1

    /// One `nn.TransformerEncoderLayer` (post-norm, GELU erf).
    struct Layer {
        let inProjection: Linear   // fused q, k, v: [3·width, width]
        let outProjection: Linear
        let norm1: LayerNormParameters
        let linear1: Linear        // GELU fused
        let linear2: Linear
        let norm2: LayerNormParameters
    }

    /// Binds the weights of `list_transformer.pt` by their PyTorch keys. The width and the
    /// feed-forward size are read off the weights; `layerCount` is the `list_transformer_layer`
    /// argument of the original (2 for the published model).
    public init(weights: WeightSource, heads: Int, layerCount: Int = 2, precision: Precision = .fp32) throws {
        guard let tagShape = weights.shape(of: "query_embedding.query_embedding.weight"), tagShape.count == 2,
              tagShape[0] == 2, tagShape[1] > 0 else {
            _ = try weights.tensor("query_embedding.query_embedding.weight", shape: [2, 1792])
            throw ModelError.inconsistentWeights("query_embedding.query_embedding.weight must be [2, width]")
        }
        let d = tagShape[1]
        guard heads > 0, d % heads == 0 else {
            throw ModelError.inconsistentWeights("list width \(d) is not a multiple of \(heads) attention heads")
        }
        guard layerCount > 0 else { throw ModelError.invalidInput("the list transformer needs at least one layer") }
        width = d
        self.heads = heads
        tags = try weights.tensor("query_embedding.query_embedding.weight", shape: [2, d]).scalars
        tagNorm = try weights.layerNorm("query_embedding.layerNorm", width: d, eps: 1e-5)
        let ffn = weights.shape(of: "list_transformer.layers.0.linear1.weight")?.first ?? 2048
        layers = try (0..<layerCount).map { i in
            let p = "list_transformer.layers.\(i)"
            return Layer(
                inProjection: try Linear(weight: try weights.tensor("\(p).self_attn.in_proj_weight", shape: [3 * d, d]),
                                         bias: try weights.tensor("\(p).self_attn.in_proj_bias", shape: [3 * d]),
                                         precision: precision, bf16Output: precision == .bf16),
                outProjection: try weights.linear("\(p).self_attn.out_proj", out: d, in: d, precision: precision),
                norm1: try weights.layerNorm("\(p).norm1", width: d, eps: 1e-5),
                linear1: try weights.linear("\(p).linear1", out: ffn, in: d, precision: precision, fuseGELU: true,
                                            bf16Output: precision == .bf16),
                linear2: try weights.linear("\(p).linear2", out: d, in: ffn, precision: precision),
                norm2: try weights.layerNorm("\(p).norm2", width: d, eps: 1e-5))
        }
        scorePre = try weights.linear("linear_score2", out: d, in: 2 * d, precision: precision)
        scorePost = try weights.linear("linear_score3", out: d, in: 2 * d, precision: precision)
        scoreOut = try weights.linear("linear_score1", out: 1, in: 2 * d, precision: precision)
    }

    /// Logits for a batch of lists. `features` is `[Σ L_i, width]`: each list's rows in turn,
    /// its query first; `listLengths` are the L_i (query included, each ≥ 2). Returns one
    /// logit per passage, list after list.
    public func logits(features: Tensor, listLengths: [Int]) throws -> [Float] {
        let d = width
        guard features.shape.count == 2, features.shape[1] == d, features.shape[0] == listLengths.reduce(0, +) else {
            throw ComputeError("ListTransformer: features \(features.shape) for lists of \(listLengths) rows, width \(d)")
        }
        guard listLengths.allSatisfy({ $0 >= 2 }) else {
            throw ModelError.invalidInput("every list needs a query and at least one passage")
        }
        var segments = [Range<Int>]()
        var start = 0
        for length in listLengths {
            segments.append(start..<start + length)
            start += length
        }
        let f = features.scalars
        let rows = RowPadding.rows(f.count / d)

        // x = LayerNorm(f + tag): tag 1 on each query row, 0 on passages (then padding rows).
        var tagged = f + [Float](repeating: 0, count: (rows - f.count / d) * d)
        for segment in segments {
            for row in segment {
                let tag = row == segment.lowerBound ? d : 0
                for j in 0..<d { tagged[row * d + j] += tags[tag + j] }
            }
        }
        var x = try tagNorm(Tensor(shape: [rows, d], scalars: tagged))
        for layer in layers {
            let qkv = try layer.inProjection(x)
            let context = try Kernels.packedSelfAttention(qkv: qkv, width: d, heads: heads, segments: segments,
                                                          firstRowSeesOnlyItself: true)
            x = try layer.norm1(try layer.outProjection(context), residual: x)
            x = try layer.norm2(try layer.linear2(try layer.linear1(x)), residual: x)
        }
        let g = x.scalars

        // Score head over [row_0 ; row_i] pairs, before (f) and after (g) the transformer.
        let pre = try scorePre(Self.queryPassagePairs(f, segments: segments, width: d))
        let post = try scorePost(Self.queryPassagePairs(g, segments: segments, width: d))
        let a = Kernels.relu(pre).scalars, b = Kernels.relu(post).scalars
        let passages = segments.reduce(0) { $0 + $1.count - 1 }
        var joined = [Float](repeating: 0, count: pre.shape[0] * 2 * d)
        for i in 0..<passages {
            joined.replaceSubrange(i * 2 * d..<i * 2 * d + d, with: a[i * d..<(i + 1) * d])
            joined.replaceSubrange(i * 2 * d + d..<(i + 1) * 2 * d, with: b[i * d..<(i + 1) * d])
        }
        return Array(try scoreOut(Tensor(shape: [pre.shape[0], 2 * d], scalars: joined)).scalars.prefix(passages))
    }

    /// `[row_0 ; row_i]` for every passage row i of every list: `[Σ (L_i − 1), 2·width]`,
    /// then zero rows up to ``RowPadding/rows(_:)``.
    private static func queryPassagePairs(_ rows: [Float], segments: [Range<Int>], width d: Int) -> Tensor {
        let passages = segments.reduce(0) { $0 + $1.count - 1 }
        let padded = RowPadding.rows(passages)
        var out = [Float](repeating: 0, count: padded * 2 * d)
        var i = 0
        for segment in segments {
            let q = segment.lowerBound * d
            for row in segment.dropFirst() {
                out.replaceSubrange(i * 2 * d..<i * 2 * d + d, with: rows[q..<q + d])
                out.replaceSubrange(i * 2 * d + d..<(i + 1) * 2 * d, with: rows[row * d..<(row + 1) * d])
                i += 1
            }
        }
        return Tensor(shape: [padded, 2 * d], scalars: out)
    }
}
