/// The whole ListConRanker network: BERT encoder → mean pooling → `linear_in_embedding`
/// → ``ListTransformer``. Token ids in, logits out; tokenization and files live elsewhere.
///
/// The two halves are separate entry points because a text's pooled vector depends on that
/// text alone: ``pooled(_:)`` can run once per passage and be stored, and ``project(pooled:)``
/// plus ``logits(features:listLengths:)`` (what training stage 1 learns) run per list.
public final class ListConRankerModel: Sendable {
    /// The per-text encoder.
    public let encoder: BertEncoder
    /// `linear_in_embedding`: hidden → list width.
    let inputProjection: any FeatureProjection
    /// The list head.
    public let listTransformer: ListTransformer

    /// Binds the three weight files. `listLayers`, when given, must equal the number of list
    /// transformer layers the weights hold (the original's `list_transformer_layer`).
    public init(configuration: BertConfiguration, encoderWeights: any WeightSource,
                inputProjectionWeights: any WeightSource, listTransformerWeights: any WeightSource,
                listLayers: Int? = nil, precision: Precision = .fp32, device: Device = .cpu) throws {
        encoder = try BertEncoder(configuration: configuration, weights: encoderWeights, precision: precision,
                                  device: device)
        listTransformer = try ListTransformer(weights: listTransformerWeights, heads: configuration.headCount,
                                              expectedLayers: listLayers,
                                              precision: precision.productPrecisionOutsideEncoder, device: device)
        // `linear_in_embedding` runs in the encoder's precision, int8 included.
        let (hidden, width) = (configuration.hiddenSize, listTransformer.width)
        inputProjection = try ComputeBackends.select(
            device, precision: precision,
            cpu: { try Self.projection(inputProjectionWeights, from: hidden, to: width, on: $0) },
            cuda: { try Self.projection(inputProjectionWeights, from: hidden, to: width, on: $0) })
    }

    private static func projection<Backend: ComputeBackend>(_ source: any WeightSource, from hidden: Int, to width: Int,
                                                             on backend: Backend) throws -> any FeatureProjection {
        let weights = KeyAccountingWeights(source)
        let product = try weights.product("", out: width, in: hidden, on: backend)
        try weights.requireEveryKeyBound(exceptUnder: [])
        return ProjectionNetwork(backend: backend, product: product)
    }

    /// Mean-pooled last hidden states of the encoder, one row per text: `[texts, hidden]`.
    /// Each text is a full token-id sequence (`[CLS] … [SEP]`), already truncated.
    public func pooled(_ texts: [[Int32]]) throws -> Tensor {
        try encoder.meanPooled(texts)
    }

    /// The list features `f = linear_in_embedding(pooled)`: `[texts, hidden]` → `[texts, width]`.
    public func project(pooled: Tensor) throws -> Tensor {
        guard pooled.shape.count == 2, pooled.shape[1] == encoder.configuration.hiddenSize else {
            throw ModelError.invalidInput("pooled vectors must be [texts, \(encoder.configuration.hiddenSize)], got \(pooled.shape)")
        }
        return try inputProjection.project(pooled)
    }

    /// Logits for lists of list features (see ``ListTransformer/logits(features:listLengths:)``).
    public func logits(features: Tensor, listLengths: [Int]) throws -> [Float] {
        try listTransformer.logits(features: features, listLengths: listLengths)
    }
}

/// `linear_in_embedding` on some backend, seen from the model: host rows in, host rows out.
protocol FeatureProjection: Sendable {
    /// The precision of the product.
    var precision: Precision { get }
    func project(_ pooled: Tensor) throws -> Tensor
}

/// `linear_in_embedding`'s weights on a backend's device.
struct ProjectionNetwork<Backend: ComputeBackend>: FeatureProjection {
    let backend: Backend
    let product: Backend.Product
    var precision: Precision { backend.precision }

    func project(_ pooled: Tensor) throws -> Tensor {
        let rows = pooled.shape[0]
        return try backend.download(backend.apply(product, to: backend.upload(pooled)), rows: rows)
    }
}
