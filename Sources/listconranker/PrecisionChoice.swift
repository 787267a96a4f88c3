import ArgumentParser
import ListConRanker

/// What `--precision` accepts: a ``Precision`` or `auto`, parsed here and nowhere else.
enum PrecisionChoice: String, CaseIterable, ExpressibleByArgument, Sendable {
    case fp32, bf16
    /// int8 encoder products (quantised weights and activations): only when asked for by name.
    case int8
    /// bf16 where the CPU multiplies bf16 natively (AVX512-BF16, AMX), fp32 otherwise; never
    /// int8, whose scores differ from fp32's by more than rounding.
    case auto

    /// The precision to run with on this CPU.
    var resolved: Precision {
        switch self {
        case .fp32: return .fp32
        case .bf16: return .bf16
        case .int8: return .int8
        case .auto: return .automatic
        }
    }

    /// A comma-separated list such as `fp32,bf16` (for commands that compare precisions).
    static func list(_ text: String) throws -> [PrecisionChoice] {
        try text.split(separator: ",").map { name in
            guard let choice = PrecisionChoice(rawValue: String(name)) else {
                throw ValidationError("unknown precision '\(name)': use fp32, bf16, int8 or auto")
            }
            return choice
        }
    }
}
