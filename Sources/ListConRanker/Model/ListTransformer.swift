/// ListConRanker's list head: a tagged, normalised copy of each list's features goes through
/// post-norm transformer layers under the ListAttention mask, and the score head combines
/// features from before (`f`) and after (`g`) the transformer:
/// `logit_i = linear_score1([ReLU(linear_score2([f_0; f_i])); ReLU(linear_score3([g_0; g_i]))])`.
///
/// The forward is written once (``ListTransformerNetwork``) against a ``ComputeBackend``; each
/// step is its own function, in the order ``logits(features:listLengths:)`` runs them, so that
/// training code can mirror them one to one: ``ListLayout`` (where each list's rows are), the
/// tagging, the transformer layers, ``ListLayout/queryPassagePairs`` and the score head.
public final class ListTransformer: Sendable {
    /// Width of the list features (1792 in the published model).
    public let width: Int
    /// Attention heads (the BERT config's `num_attention_heads`).
    public let heads: Int
    /// Transformer layers, read off the keys (2 in the published model).
    public let layerCount: Int
    /// Where the list head runs.
    public let device: Device
    /// Keys of `list_transformer.pt` the model does not use: the original keeps the template
    /// layer `nn.TransformerEncoder` deep-copies, so its state dict carries this unused copy.
    public static let unusedKeyPrefixes = ["list_transformer_layer."]

    private let network: any ListLogits

    /// Binds the weights of `list_transformer.pt` by their PyTorch keys and prepares them on
    /// `device`. The width, the feed-forward size and the number of layers are read off the
    /// weights; `expectedLayers`, when given, must equal that number (the original's
    /// `list_transformer_layer` argument). Every key must be bound, except the documented
    /// ``unusedKeyPrefixes``.
    public init(weights source: any WeightSource, heads: Int, expectedLayers: Int? = nil,
                precision: Precision = .fp32, device: Device = .cpu) throws {
        guard let tagShape = source.shape(of: "query_embedding.query_embedding.weight"), tagShape.count == 2,
              tagShape[0] == 2, tagShape[1] > 0 else {
            _ = try source.tensor("query_embedding.query_embedding.weight", shape: [2, 1792])
            throw ModelError.inconsistentWeights("query_embedding.query_embedding.weight must be [2, width]")
        }
        let d = tagShape[1]
        guard heads > 0, d % heads == 0 else {
            throw ModelError.inconsistentWeights("list width \(d) is not a multiple of \(heads) attention heads")
        }
        let layerCount = try source.layerCount(under: "list_transformer.layers.")
        guard layerCount > 0 else {
            throw ModelError.inconsistentWeights("\(source.origin): no list_transformer.layers.N keys")
        }
        if let expectedLayers, expectedLayers != layerCount {
            throw ModelError.inconsistentWeights(
                "\(source.origin) has \(layerCount) list transformer layers, but \(expectedLayers) were asked for")
        }
        width = d
        self.heads = heads
        self.layerCount = layerCount
        self.device = device
        network = try ComputeBackends.select(
            device, precision: precision,
            cpu: { try ListTransformerNetwork(weights: source, width: d, heads: heads, layerCount: layerCount, backend: $0) },
            cuda: { try ListTransformerNetwork(weights: source, width: d, heads: heads, layerCount: layerCount, backend: $0) })
    }

    /// Logits for a batch of lists. `features` is `[Σ L_i, width]`: each list's rows in turn,
    /// its query first; `listLengths` are the L_i (query included, each ≥ 2). Returns one
    /// logit per passage, list after list.
    public func logits(features f: Tensor, listLengths: [Int]) throws -> [Float] {
        let layout = try ListLayout(listLengths: listLengths)
        guard f.shape.count == 2, f.shape[1] == width, f.shape[0] == layout.rows else {
            throw ComputeError("ListTransformer: features \(f.shape) for lists of \(listLengths) rows, width \(width)")
        }
        return try network.logits(features: f, layout: layout)
    }
}

/// A list head on some backend, seen from the facade: checked features in, logits out.
protocol ListLogits: Sendable {
    func logits(features: Tensor, layout: ListLayout) throws -> [Float]
}

/// The list head's weights on a backend's device, and its one forward pass.
struct ListTransformerNetwork<Backend: ComputeBackend>: ListLogits {
    let width: Int
    let heads: Int
    let backend: Backend
    let tags: Backend.Table                 // [2, width]: row 1 tags the query, row 0 passages
    let tagNorm: Backend.Normalization      // eps 1e-5 (nn.LayerNorm's default)
    let layers: [Layer]
    let scorePre: Backend.Product           // linear_score2: [f_0; f_i] → width, ReLU
    let scorePost: Backend.Product          // linear_score3: [g_0; g_i] → width, ReLU
    let scoreOut: Backend.Product           // linear_score1: [a; b] → 1

    /// One `nn.TransformerEncoderLayer` (post-norm, GELU erf).
    struct Layer: Sendable {
        let inProjection: Backend.Product   // fused q, k, v: [3·width, width]
        let outProjection: Backend.Product
        let norm1: Backend.Normalization
        let linear1: Backend.Product        // GELU fused
        let linear2: Backend.Product
        let norm2: Backend.Normalization
    }

    init(weights source: any WeightSource, width d: Int, heads: Int, layerCount: Int, backend: Backend) throws {
        let weights = KeyAccountingWeights(source)
        width = d
        self.heads = heads
        self.backend = backend
        tags = try backend.table(weights.tensor("query_embedding.query_embedding.weight", shape: [2, d]))
        tagNorm = try weights.layerNorm("query_embedding.layerNorm", width: d, eps: 1e-5, on: backend)
        let ffn = weights.shape(of: "list_transformer.layers.0.linear1.weight")?.first ?? 2048
        layers = try (0..<layerCount).map { i in
            let p = "list_transformer.layers.\(i)"
            return Layer(
                inProjection: try backend.product(weight: weights.tensor("\(p).self_attn.in_proj_weight", shape: [3 * d, d]),
                                                  bias: weights.tensor("\(p).self_attn.in_proj_bias", shape: [3 * d]),
                                                  activation: .none, feedsProduct: true),
                outProjection: try weights.product("\(p).self_attn.out_proj", out: d, in: d, on: backend),
                norm1: try weights.layerNorm("\(p).norm1", width: d, eps: 1e-5, on: backend),
                linear1: try weights.product("\(p).linear1", out: ffn, in: d, on: backend, activation: .gelu,
                                             feedsProduct: true),
                linear2: try weights.product("\(p).linear2", out: d, in: ffn, on: backend),
                norm2: try weights.layerNorm("\(p).norm2", width: d, eps: 1e-5, on: backend))
        }
        scorePre = try weights.product("linear_score2", out: d, in: 2 * d, on: backend, activation: .relu)
        scorePost = try weights.product("linear_score3", out: d, in: 2 * d, on: backend, activation: .relu)
        scoreOut = try weights.product("linear_score1", out: 1, in: 2 * d, on: backend)
        try weights.requireEveryKeyBound(exceptUnder: ListTransformer.unusedKeyPrefixes)
    }

    func logits(features: Tensor, layout: ListLayout) throws -> [Float] {
        let f = try backend.upload(features)                      // [rows, d]
        let x = try tagged(f, layout: layout)                     // [rows', d]
        let g = try transformed(x, layout: layout)                // [rows', d]
        return try scoreHead(f: f, g: g, layout: layout)          // [passages]
    }

    /// `LayerNorm(f + tag)`, tag 1 on each list's query row and 0 on its passages:
    /// `[rows', width]`, padded with zero rows up to ``RowPadding/rows(_:)``.
    func tagged(_ f: Backend.Matrix, layout: ListLayout) throws -> Backend.Matrix {
        let tagged = try backend.addingTags(f, tags: tags, tagOfRow: layout.tagOfRow,
                                            paddedRows: RowPadding.rows(layout.rows))
        return try backend.normalized(tagged, residual: nil, by: tagNorm)
    }

    /// The post-norm transformer layers under the ListAttention mask (a query row attends to
    /// itself only; a passage row to its list's query and passages): `[rows', width]`.
    func transformed(_ input: Backend.Matrix, layout: ListLayout) throws -> Backend.Matrix {
        var x = input
        for layer in layers {
            let qkv = try backend.apply(layer.inProjection, to: x)
            let context = try backend.selfAttention(qkv: qkv, width: width, heads: heads, segments: layout.segments,
                                                    firstRowSeesOnlyItself: true)
            x = try backend.normalized(try backend.apply(layer.outProjection, to: context), residual: x, by: layer.norm1)
            x = try backend.normalized(try backend.apply(layer.linear2, to: try backend.apply(layer.linear1, to: x)),
                                       residual: x, by: layer.norm2)
        }
        return x
    }

    /// The score head: `a = ReLU(linear_score2([f_0; f_i]))`, `b = ReLU(linear_score3([g_0; g_i]))`,
    /// `logit_i = linear_score1([a; b])`, one per passage, list after list.
    func scoreHead(f: Backend.Matrix, g: Backend.Matrix, layout: ListLayout) throws -> [Float] {
        let pairs = layout.queryPassagePairs, padded = RowPadding.rows(layout.passages)
        let a = try backend.apply(scorePre, to: backend.pairedRows(f, pairs: pairs, paddedRows: padded))   // [passages', d]
        let b = try backend.apply(scorePost, to: backend.pairedRows(g, pairs: pairs, paddedRows: padded))  // [passages', d]
        let logits = try backend.apply(scoreOut, to: backend.concatenatedColumns(a, b))                     // [passages', 1]
        return try backend.download(logits, rows: layout.passages).scalars
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

    /// The tag of each row: 1 for a list's query, 0 for its passages.
    public var tagOfRow: [Int] {
        segments.flatMap { segment in segment.map { $0 == segment.lowerBound ? 1 : 0 } }
    }

    /// `(query row, passage row)` for every passage of every list, list after list: the rows the
    /// score head pairs as `[row_0 ; row_i]`.
    public var queryPassagePairs: [(first: Int, second: Int)] {
        segments.flatMap { segment in segment.dropFirst().map { (first: segment.lowerBound, second: $0) } }
    }
}
