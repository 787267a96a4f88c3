/// What the encoder's training forward keeps for its backward, and so what the backward runs
/// again: memory traded for time. The gradients are bitwise the same in every mode (a layer is
/// deterministic in its input and dropout seed).
///
/// A BERT layer's products are the query/key/value projection (3 units of `H²` per token), the
/// attention output projection (1) and the feed-forward pair (4 + 4). Keeping the outputs of the
/// feed-forward pair lets the backward re-run only the attention block, a third of the layer's
/// product work, for `F + H` more floats per token and layer than keeping the input alone.
public enum EncoderRecomputation: String, Sendable, CaseIterable, Codable {
    /// Keep every activation of every layer: the fastest backward, the most memory.
    case none
    /// Keep each layer's input, its feed-forward pre-activation (`[N, F]`) and second residual
    /// sum (`[N, H]`, with its LayerNorm statistics); the backward re-runs the attention block
    /// (projections, attention, output projection, first LayerNorm) and GELU.
    case attention
    /// Keep only each layer's input; the backward re-runs the whole layer: the least memory.
    case layers

    /// The mode a run uses when none is asked for: ``attention`` for encoders of hidden size
    /// ≥ 1024 (BERT-large, the published model's size), ``none`` for smaller ones.
    public static func automatic(hidden: Int) -> EncoderRecomputation { hidden >= 1024 ? .attention : .none }

    /// One line for a run's log.
    var summary: String {
        switch self {
        case .none: "every encoder activation is kept for the backward"
        case .attention: "each encoder layer's attention block is recomputed in the backward (--recompute)"
        case .layers: "each encoder layer is recomputed whole in the backward (--recompute-layers)"
        }
    }

    /// Whether the forward keeps only some of a layer's activations (the backward re-runs the rest).
    var recomputes: Bool { self != .none }
}
