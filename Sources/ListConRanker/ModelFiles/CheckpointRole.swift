/// Which part of a ListConRanker a checkpoint file holds, judged by its keys.
public enum CheckpointRole: Sendable, Equatable, CustomStringConvertible {
    /// A BERT encoder (HF `BertModel` key names); `layers` is the number of encoder layers
    /// and `prefixed` whether keys carry a `bert.` prefix.
    case bertEncoder(layers: Int, prefixed: Bool)
    /// ListConRanker's `linear_in_embedding.pt`: a Linear (`weight`, `bias`).
    case linearInEmbedding
    /// ListConRanker's `list_transformer.pt`: the ListTransformer and score head;
    /// `layers` is the number of transformer layers (the unused copy not counted).
    case listTransformer(layers: Int)
    /// None of those.
    case unknown

    /// Classifies a store by its floating-point keys.
    public init(_ store: any TensorStore) {
        let names = Set(store.descriptors.map(\.name))
        if names.contains("embeddings.word_embeddings.weight") || names.contains("bert.embeddings.word_embeddings.weight") {
            let prefixed = names.contains("bert.embeddings.word_embeddings.weight")
            self = .bertEncoder(layers: Self.layerCount(store, prefix: "encoder.layer."), prefixed: prefixed)
        } else if names.contains("list_transformer.layers.0.self_attn.in_proj_weight")
                    || names.contains("linear_score1.weight") {
            self = .listTransformer(layers: Self.layerCount(store, prefix: "list_transformer.layers."))
        } else if names.subtracting(["weight", "bias"]).isEmpty, names.contains("weight") {
            self = .linearInEmbedding
        } else {
            self = .unknown
        }
    }

    /// The number of layers under `prefix` (`bert.` stripped), as the model counts them; 0 when
    /// their numbers have gaps (the model would refuse the file).
    private static func layerCount(_ store: any TensorStore, prefix: String) -> Int {
        (try? NamedWeights(store).layerCount(under: prefix)) ?? 0
    }

    /// A one-line account for people.
    public var description: String {
        switch self {
        case .bertEncoder(let layers, let prefixed):
            return "BERT encoder, \(layers) layers" + (prefixed ? " (keys prefixed \"bert.\")" : "")
        case .linearInEmbedding: return "ListConRanker linear_in_embedding (Linear)"
        case .listTransformer(let layers): return "ListConRanker list transformer, \(layers) layers"
        case .unknown: return "unrecognised checkpoint"
        }
    }
}
