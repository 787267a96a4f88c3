import ArgumentParser
import ListConRanker

/// What `--precision` accepts: a ``Precision`` or `auto`, parsed here and nowhere else.
enum PrecisionChoice: String, CaseIterable, ExpressibleByArgument, Sendable {
    case fp32, bf16
    /// IEEE half inputs with Float32 accumulation: GPUs only.
    case fp16
    /// bf16 on a GPU, or where the CPU multiplies bf16 natively (AVX512-BF16, AMX); fp32 otherwise.
    case auto

    /// The precision to run with on this CPU.
    var resolved: Precision { resolved(on: .cpu) }

    /// The precision to run with on `device`.
    func resolved(on device: Device) -> Precision {
        switch self {
        case .fp32: return .fp32
        case .bf16: return .bf16
        case .fp16: return .fp16
        case .auto: return device.isGPU ? .bf16 : .automatic
        }
    }

    /// A comma-separated list such as `fp32,bf16` (for commands that compare precisions).
    static func list(_ text: String) throws -> [PrecisionChoice] {
        try text.split(separator: ",").map { name in
            guard let choice = PrecisionChoice(rawValue: String(name)) else {
                throw ValidationError("unknown precision '\(name)': use fp32, bf16, fp16 or auto")
            }
            return choice
        }
    }
}

extension Device: ExpressibleByArgument {
    /// `cpu`, `cuda` or `cuda:N`.
    public init?(argument: String) { self.init(argument) }

    public static var defaultCompletionKind: CompletionKind { .list(["cpu", "cuda", "cuda:0", "cuda:1"]) }
}
