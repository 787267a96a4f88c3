/// What the encoder's training forward keeps for its backward, and so what the backward runs
/// again: memory traded for time. The gradients are bitwise the same in every mode (a layer is
/// deterministic in its input and dropout seed).
///
/// Most of a BERT layer's time is its weight products (query/key/value 3 units of `H²` per token,
/// the attention output 1, the feed-forward pair 4 + 4); most of its activation memory at texts
/// of a few hundred tokens is, on the CPU, the attention probabilities and their dropout mask
/// (`heads · L` floats per token each; a GPU keeps a log-sum-exp per token and head instead of the
/// probabilities, and byte masks), which cost little to compute again. Keeping the products' outputs and
/// re-running the rest is the middle way (the "selective recomputation" of Korthikanti et al.,
/// 2022).
public enum EncoderRecomputation: String, Sendable, CaseIterable {
    /// Keep every activation of every layer: the most memory.
    case none
    /// Keep each layer's input, the outputs of its weight products (query/key/value, context,
    /// the two residual sums, the feed-forward pre-activation) and the first LayerNorm's output as
    /// the next product reads it (`7H + F` floats per token on the CPU; on a GPU in bf16 the products'
    /// operands and that output take 2 bytes an element); the backward re-runs the attention
    /// scores and softmax, the dropout masks and GELU, and no weight product or LayerNorm.
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
        case .attention: "each encoder layer's attention probabilities are recomputed in the backward (--recompute)"
        case .layers: "each encoder layer is recomputed whole in the backward (--recompute-layers)"
        }
    }

    /// This mode and the ones that keep less, from the most memory to the least: what a run that
    /// chose no mode may fall back to when a micro-batch does not fit.
    var andLeaner: [EncoderRecomputation] { Array(Self.allCases.drop { $0 != self }) }

    /// Whether the forward keeps only some of a layer's activations (the backward re-runs the rest).
    var recomputes: Bool { self != .none }
}
