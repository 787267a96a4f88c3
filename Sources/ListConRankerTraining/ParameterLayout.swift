/// Where each named parameter tensor of the list head lies in one flat Float32 buffer.
///
/// Parameters, gradients and optimizer moments all use the same layout (as llm.c keeps its
/// `ParameterTensors` in one block), so the optimizer, clipping and the file writer walk one
/// list instead of knowing the model. Names are the keys of the official files:
/// `linear_in_embedding.weight`/`.bias` (in the file without the prefix), then the keys of
/// `list_transformer.pt` in the order `torch.save` writes them (the unused
/// `list_transformer_layer.*` copy is not a parameter).
public struct ParameterLayout: Sendable, Equatable {
    /// One tensor of the layout.
    public struct Entry: Sendable, Equatable {
        /// The key, e.g. `list_transformer.layers.0.linear1.weight`.
        public let name: String
        /// Extent of each dimension, outermost first.
        public let shape: [Int]
        /// First element in the flat buffer.
        public let offset: Int
        /// Whether AdamW applies weight decay to it (see ``decays(_:)``).
        public let decays: Bool

        /// Number of elements.
        public var count: Int { shape.reduce(1, *) }
        /// The elements' range in the flat buffer.
        public var range: Range<Int> { offset..<offset + count }
    }

    /// The dimensions the layout was made for.
    public let shape: ListHeadShape
    /// Every tensor, in file order.
    public let entries: [Entry]
    /// Total elements.
    public let count: Int
    private let index: [String: Int]

    /// The prefix under which `linear_in_embedding.pt`'s keys appear in the layout.
    public static let inputEmbeddingPrefix = "linear_in_embedding."

    /// The layout of a list head of `shape`.
    public init(shape: ListHeadShape) {
        let h = shape.hidden, w = shape.width, f = shape.feedForward
        var named: [(String, [Int])] = [
            ("linear_in_embedding.weight", [w, h]), ("linear_in_embedding.bias", [w]),
        ]
        for layer in 0..<shape.layers {
            named += Self.layerTensors(prefix: "list_transformer.layers.\(layer).", width: w, feedForward: f)
        }
        named += [
            ("query_embedding.query_embedding.weight", [2, w]),
            ("query_embedding.layerNorm.weight", [w]), ("query_embedding.layerNorm.bias", [w]),
            ("linear_score3.weight", [w, 2 * w]), ("linear_score3.bias", [w]),
            ("linear_score2.weight", [w, 2 * w]), ("linear_score2.bias", [w]),
            ("linear_score1.weight", [1, 2 * w]), ("linear_score1.bias", [1]),
        ]
        var entries: [Entry] = []
        var offset = 0
        for (name, dims) in named {
            entries.append(Entry(name: name, shape: dims, offset: offset, decays: Self.decays(name)))
            offset += dims.reduce(1, *)
        }
        self.shape = shape
        self.entries = entries
        self.count = offset
        self.index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
    }

    /// The tensors of one `nn.TransformerEncoderLayer` under `prefix`, in state-dict order.
    static func layerTensors(prefix p: String, width w: Int, feedForward f: Int) -> [(String, [Int])] {
        [
            ("\(p)self_attn.in_proj_weight", [3 * w, w]), ("\(p)self_attn.in_proj_bias", [3 * w]),
            ("\(p)self_attn.out_proj.weight", [w, w]), ("\(p)self_attn.out_proj.bias", [w]),
            ("\(p)linear1.weight", [f, w]), ("\(p)linear1.bias", [f]),
            ("\(p)linear2.weight", [w, f]), ("\(p)linear2.bias", [w]),
            ("\(p)norm1.weight", [w]), ("\(p)norm1.bias", [w]),
            ("\(p)norm2.weight", [w]), ("\(p)norm2.bias", [w]),
        ]
    }

    /// The weight-decay rule (the one Hugging Face's Trainer uses): every bias and every
    /// LayerNorm scale and shift is exempt; matrices (linear, attention projections) and the
    /// embeddings (the query tag, BERT's word, position and token-type tables) decay. Decaying a
    /// LayerNorm scale pulls it towards 0, not towards its neutral 1, and biases do not scale the
    /// function's sensitivity, hence the exemption. LayerNorms are named `norm1`/`norm2`/`layerNorm`
    /// in the list head and `LayerNorm` in BERT (``EncoderParameterLayout``).
    public static func decays(_ name: String) -> Bool {
        if name.hasSuffix("bias") { return false }   // `.bias` and `in_proj_bias`
        if name.contains("norm1.") || name.contains("norm2.") || name.contains("layerNorm.")
            || name.contains("LayerNorm.") { return false }
        return true
    }

    /// The entry named `name`, or nil.
    public func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The entry named `name`; throws if the layout has none.
    func require(_ name: String) throws -> Entry {
        guard let entry = entry(name) else { throw TrainingError.invalidInput("no parameter \"\(name)\"") }
        return entry
    }

    /// The offset of `name` (for layouts made by this type every name used by the model exists).
    func offset(_ name: String) -> Int { index[name].map { entries[$0].offset } ?? 0 }
}
