/// ListConRanker's list head: a tagged, normalised copy of each list's features goes through
/// post-norm transformer layers under the ListAttention mask, and the score head combines
/// features from before (`f`) and after (`g`) the transformer:
/// `logit_i = linear_score1([ReLU(linear_score2([f_0; f_i])); ReLU(linear_score3([g_0; g_i]))])`.
///
/// Each step is its own function, in the order ``logits(features:listLengths:)`` runs them, so
/// that training code can mirror them one to one: ``ListLayout`` (where each list's rows are),
/// ``tagged(_:layout:)``, ``transformed(_:layout:)``, ``ListLayout/queryPassagePairs(_:width:)``,
/// ``scoreHead(f:g:layout:)``.
public final class ListTransformer: Sendable {
    /// Width of the list features (1792 in the published model).
    public let width: Int
    /// Attention heads (the BERT config's `num_attention_heads`).
    public let heads: Int
    /// Transformer layers, read off the keys (2 in the published model).
    public var layerCount: Int { layers.count }
    /// Keys of `list_transformer.pt` the model does not use: the original keeps the template
    /// layer `nn.TransformerEncoder` deep-copies, so its state dict carries this unused copy.
    public static let unusedKeyPrefixes = ["list_transformer_layer."]

    private let tags: Tensor                 // [2, width]: row 1 tags the query, row 0 passages
    private let tagNorm: LayerNormParameters // eps 1e-5 (nn.LayerNorm's default)
    private let layers: [Layer]
    private let scorePre: Linear             // linear_score2: [f_0; f_i] → width
    private let scorePost: Linear            // linear_score3: [g_0; g_i] → width
    private let scoreOut: Linear             // linear_score1: [a; b] → 1

    /// One `nn.TransformerEncoderLayer` (post-norm, GELU erf).
    struct Layer: Sendable {
        let inProjection: Linear   // fused q, k, v: [3·width, width]
        let outProjection: Linear
        let norm1: LayerNormParameters
        let linear1: Linear        // GELU fused
        let linear2: Linear
        let norm2: LayerNormParameters
    }

    /// Binds the weights of `list_transformer.pt` by their PyTorch keys. The width, the
    /// feed-forward size and the number of layers are read off the weights; `expectedLayers`,
    /// when given, must equal that number (the original's `list_transformer_layer` argument).
    /// Every key must be bound, except the documented ``unusedKeyPrefixes``.
    public init(weights source: any WeightSource, heads: Int, expectedLayers: Int? = nil,
                precision: Precision = .fp32) throws {
        let weights = KeyAccountingWeights(source)
        guard let tagShape = weights.shape(of: "query_embedding.query_embedding.weight"), tagShape.count == 2,
              tagShape[0] == 2, tagShape[1] > 0 else {
            _ = try weights.tensor("query_embedding.query_embedding.weight", shape: [2, 1792])
            throw ModelError.inconsistentWeights("query_embedding.query_embedding.weight must be [2, width]")
        }
        let d = tagShape[1]
        guard heads > 0, d % heads == 0 else {
            throw ModelError.inconsistentWeights("list width \(d) is not a multiple of \(heads) attention heads")
        }
        let layerCount = try weights.layerCount(under: "list_transformer.layers.")
        guard layerCount > 0 else {
            throw ModelError.inconsistentWeights("\(weights.origin): no list_transformer.layers.N keys")
        }
        if let expectedLayers, expectedLayers != layerCount {
            throw ModelError.inconsistentWeights(
                "\(weights.origin) has \(layerCount) list transformer layers, but \(expectedLayers) were asked for")
        }
        width = d
        self.heads = heads
        tags = try weights.tensor("query_embedding.query_embedding.weight", shape: [2, d])
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
        try weights.requireEveryKeyBound(exceptUnder: Self.unusedKeyPrefixes)
    }

    /// Logits for a batch of lists. `features` is `[Σ L_i, width]`: each list's rows in turn,
    /// its query first; `listLengths` are the L_i (query included, each ≥ 2). Returns one
    /// logit per passage, list after list.
    public func logits(features f: Tensor, listLengths: [Int]) throws -> [Float] {
        let layout = try ListLayout(listLengths: listLengths)
        guard f.shape.count == 2, f.shape[1] == width, f.shape[0] == layout.rows else {
            throw ComputeError("ListTransformer: features \(f.shape) for lists of \(listLengths) rows, width \(width)")
        }
        let x = try tagged(f, layout: layout)            // [rows', d]
        let g = try transformed(x, layout: layout)       // [rows', d]
        return try scoreHead(f: f, g: g, layout: layout) // [passages]
    }

    /// `LayerNorm(f + tag)`, tag 1 on each list's query row and 0 on its passages:
    /// `[rows', width]`, padded with zero rows up to ``RowPadding/rows(_:)``.
    func tagged(_ f: Tensor, layout: ListLayout) throws -> Tensor {
        let d = width
        var x = Tensor(zeros: [RowPadding.rows(layout.rows), d])
        f.withFloats { source in
            tags.withFloats { tag in
                x.withMutableFloats { out in
                    for segment in layout.segments {
                        for row in segment {
                            let t = row == segment.lowerBound ? d : 0
                            for j in 0..<d { out[row * d + j] = source[row * d + j] + tag[t + j] }
                        }
                    }
                }
            }
        }
        return try tagNorm(x)
    }

    /// The post-norm transformer layers under the ListAttention mask (a query row attends to
    /// itself only; a passage row to its list's query and passages): `[rows', width]`.
    func transformed(_ input: Tensor, layout: ListLayout) throws -> Tensor {
        var x = input
        for layer in layers {
            let qkv = try layer.inProjection(x)
            let context = try Kernels.packedSelfAttention(qkv: qkv, width: width, heads: heads,
                                                          segments: layout.segments, firstRowSeesOnlyItself: true)
            x = try layer.norm1(try layer.outProjection(context), residual: x)
            x = try layer.norm2(try layer.linear2(try layer.linear1(x)), residual: x)
        }
        return x
    }

    /// The score head: `a = ReLU(linear_score2([f_0; f_i]))`, `b = ReLU(linear_score3([g_0; g_i]))`,
    /// `logit_i = linear_score1([a; b])`, one per passage, list after list.
    func scoreHead(f: Tensor, g: Tensor, layout: ListLayout) throws -> [Float] {
        let a = Kernels.relu(try scorePre(layout.queryPassagePairs(f, width: width)))    // [passages', d]
        let b = Kernels.relu(try scorePost(layout.queryPassagePairs(g, width: width)))   // [passages', d]
        let logits = try scoreOut(ListLayout.concatenatedColumns(a, b))                    // [passages', 1]
        return Array(logits.scalars.prefix(layout.passages))
    }
}

/// Where each list's rows are in a batch of lists stacked row after row (query first), and the
/// row gathers the list head makes over that layout.
public struct ListLayout: Sendable, Equatable {
    /// Each list's rows: `segments[i].lowerBound` is list i's query row.
    public let segments: [Range<Int>]
    /// Rows of all lists together (Σ L_i).
    public var rows: Int { segments.last?.upperBound ?? 0 }
    /// Passages of all lists together (Σ (L_i − 1)): the number of scores.
    public var passages: Int { rows - segments.count }

    /// The layout of lists of `listLengths` rows each (query included); every list needs a
    /// query and at least one passage.
    public init(listLengths: [Int]) throws {
        guard listLengths.allSatisfy({ $0 >= 2 }) else {
            throw ModelError.invalidInput("every list needs a query and at least one passage")
        }
        var segments = [Range<Int>]()
        var start = 0
        for length in listLengths {
            segments.append(start..<start + length)
            start += length
        }
        self.segments = segments
    }

    /// `[row_0 ; row_i]` for every passage row i of every list: `[passages', 2·width]`, padded
    /// with zero rows up to ``RowPadding/rows(_:)``.
    public func queryPassagePairs(_ x: Tensor, width d: Int) -> Tensor {
        var out = Tensor(zeros: [RowPadding.rows(passages), 2 * d])
        x.withFloats { rows in
            out.withMutableFloats { o in
                var i = 0
                for segment in segments {
                    let q = segment.lowerBound * d
                    for row in segment.dropFirst() {
                        for j in 0..<d {
                            o[i * 2 * d + j] = rows[q + j]
                            o[i * 2 * d + d + j] = rows[row * d + j]
                        }
                        i += 1
                    }
                }
            }
        }
        return out
    }

    /// `[a ; b]` row by row: `[rows, wa + wb]` from `a [rows, wa]` and `b [rows, wb]`.
    public static func concatenatedColumns(_ a: Tensor, _ b: Tensor) -> Tensor {
        let rows = a.shape[0], wa = a.shape[1], wb = b.shape[1]
        var out = Tensor(zeros: [rows, wa + wb])
        a.withFloats { pa in
            b.withFloats { pb in
                out.withMutableFloats { o in
                    for r in 0..<rows {
                        for j in 0..<wa { o[r * (wa + wb) + j] = pa[r * wa + j] }
                        for j in 0..<wb { o[r * (wa + wb) + wa + j] = pb[r * wb + j] }
                    }
                }
            }
        }
        return out
    }
}
