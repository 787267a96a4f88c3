/// The whole ListConRanker network: BERT encoder → mean pooling → `linear_in_embedding`
/// → ``ListTransformer``. Token ids in, logits out; tokenization and files live elsewhere.
public final class ListConRankerModel: @unchecked Sendable {
    /// The per-text encoder.
    public let encoder: BertEncoder
    /// `linear_in_embedding`: hidden → list width.
    let inputProjection: Linear
    /// The list head.
    public let listTransformer: ListTransformer

    /// Binds the three weight files. `listLayers` is the original's `list_transformer_layer`.
    public init(configuration: BertConfiguration, encoderWeights: WeightSource, inputProjectionWeights: WeightSource,
                listTransformerWeights: WeightSource, listLayers: Int = 2, precision: Precision = .fp32) throws {
        encoder = try BertEncoder(configuration: configuration, weights: encoderWeights, precision: precision)
        listTransformer = try ListTransformer(weights: listTransformerWeights, heads: configuration.headCount,
                                              layerCount: listLayers, precision: precision)
        let width = listTransformer.width
        inputProjection = try inputProjectionWeights.linear("", out: width, in: configuration.hiddenSize,
                                                            precision: precision)
    }

    /// The list features `f = linear_in_embedding(meanPool(BERT(text)))` of each text: `[texts, width]`.
    public func features(_ texts: [[Int32]]) throws -> Tensor {
        try inputProjection(try encoder.meanPooled(texts))
    }

    /// Logits for lists of precomputed features (see ``ListTransformer/logits(features:listLengths:)``).
    public func logits(features: Tensor, listLengths: [Int]) throws -> [Float] {
        try listTransformer.logits(features: features, listLengths: listLengths)
    }
}
