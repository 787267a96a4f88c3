import ArgumentParser
import ListConRankerTraining

/// Stage 2's memory-for-time choice on the command line (``EncoderRecomputation``), one flag per
/// mode: `--recompute`, `--recompute-layers`, `--no-recompute`.
enum RecomputationFlag: String, EnumerableFlag {
    case recompute
    case recomputeLayers
    case noRecompute

    static func help(for value: RecomputationFlag) -> ArgumentHelp? {
        switch value {
        case .recompute:
            "Keep each encoder layer's product outputs and its first LayerNorm's output; re-run its attention softmax, dropout masks and GELU in the backward (stage 2's default for hidden size ≥ 1024; with none of the three named, a GPU run recomputes more for a micro-batch its free memory cannot hold)."
        case .recomputeLayers: "Keep only each encoder layer's input; re-run the whole layer in the backward (least memory)."
        case .noRecompute: "Keep every encoder activation for the backward (the most memory; stage 2's default below 1024)."
        }
    }

    var recomputation: EncoderRecomputation {
        switch self {
        case .recompute: .attention
        case .recomputeLayers: .layers
        case .noRecompute: .none
        }
    }
}
