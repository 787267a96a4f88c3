/// Where each BERT encoder tensor lies in one flat Float32 buffer (parameters, gradients and
/// optimizer moments alike, as ``ParameterLayout`` does for the list head).
///
/// Names are Hugging Face `BertModel` keys without any `bert.` prefix
/// (`embeddings.word_embeddings.weight`, `encoder.layer.N.attention.self.query.weight`, …); the
/// pooler is not a parameter (mean pooling replaces it). Order: the embeddings, then each layer.
/// Within a layer the query, key and value weights are adjacent and so are their biases, so the
/// three projections run as one `[3H, H]` product (as the inference encoder fuses them) while
/// each keeps its own name.
public struct EncoderParameterLayout: Sendable, Equatable {
    /// The dimensions the layout was made for.
    public let shape: EncoderShape
    /// Every tensor, in buffer order (``ParameterLayout/Entry``, the list head's entry type, so
    /// code that walks entries — optimizer, clipping, writers — serves both).
    public let entries: [ParameterLayout.Entry]
    /// Total elements.
    public let count: Int
    private let index: [String: Int]

    /// The layout of an encoder of `shape`.
    public init(shape: EncoderShape) {
        let h = shape.hidden, f = shape.intermediate
        var named: [(String, [Int])] = [
            ("embeddings.word_embeddings.weight", [shape.vocabulary, h]),
            ("embeddings.position_embeddings.weight", [shape.maxPositions, h]),
            ("embeddings.token_type_embeddings.weight", [shape.tokenTypes, h]),
            ("embeddings.LayerNorm.weight", [h]), ("embeddings.LayerNorm.bias", [h]),
        ]
        for layer in 0..<shape.layers {
            let p = Self.layerPrefix(layer)
            named += [
                ("\(p)attention.self.query.weight", [h, h]), ("\(p)attention.self.key.weight", [h, h]),
                ("\(p)attention.self.value.weight", [h, h]),
                ("\(p)attention.self.query.bias", [h]), ("\(p)attention.self.key.bias", [h]),
                ("\(p)attention.self.value.bias", [h]),
                ("\(p)attention.output.dense.weight", [h, h]), ("\(p)attention.output.dense.bias", [h]),
                ("\(p)attention.output.LayerNorm.weight", [h]), ("\(p)attention.output.LayerNorm.bias", [h]),
                ("\(p)intermediate.dense.weight", [f, h]), ("\(p)intermediate.dense.bias", [f]),
                ("\(p)output.dense.weight", [h, f]), ("\(p)output.dense.bias", [h]),
                ("\(p)output.LayerNorm.weight", [h]), ("\(p)output.LayerNorm.bias", [h]),
            ]
        }
        var entries: [ParameterLayout.Entry] = []
        var offset = 0
        for (name, dims) in named {
            entries.append(ParameterLayout.Entry(name: name, shape: dims, offset: offset,
                                                 decays: ParameterLayout.decays(name)))
            offset += dims.reduce(1, *)
        }
        self.shape = shape
        self.entries = entries
        self.count = offset
        self.index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
    }

    /// `encoder.layer.N.`
    static func layerPrefix(_ layer: Int) -> String { "encoder.layer.\(layer)." }

    /// Where a part's parameters lie in the flat values: layer `part` (0-based), or the
    /// embeddings for -1 (everything before layer 0). Layers are contiguous, in order.
    public func range(ofPart part: Int) -> Range<Int> {
        let starts = entries.indices.filter { $0 == 0 || Self.layer(of: entries[$0].name) != Self.layer(of: entries[$0 - 1].name) }
            .map { (layer: Self.layer(of: entries[$0].name), offset: entries[$0].offset) }
        guard let position = starts.firstIndex(where: { $0.layer == part }) else { return 0..<0 }
        let end = position + 1 < starts.count ? starts[position + 1].offset : count
        return starts[position].offset..<end
    }

    /// The layer a parameter name belongs to, -1 for the embeddings.
    private static func layer(of name: String) -> Int {
        guard name.hasPrefix("encoder.layer.") else { return -1 }
        return Int(name.dropFirst("encoder.layer.".count).prefix { $0.isNumber }) ?? -1
    }

    /// The entry named `name`, or nil.
    public func entry(_ name: String) -> ParameterLayout.Entry? { index[name].map { entries[$0] } }

    /// The entry named `name`; throws if the layout has none.
    func require(_ name: String) throws -> ParameterLayout.Entry {
        guard let entry = entry(name) else { throw TrainingError.invalidInput("no encoder parameter \"\(name)\"") }
        return entry
    }

    /// The offset of `name` (for layouts made by this type every name the network uses exists).
    func offset(_ name: String) -> Int { index[name].map { entries[$0].offset } ?? 0 }
}
