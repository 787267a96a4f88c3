import ArgumentParser
import Foundation
import ListConRanker

/// What `--precision` accepts: a ``Precision`` or `auto`, parsed here and nowhere else.
enum PrecisionChoice: String, CaseIterable, ExpressibleByArgument, Sendable {
    case fp32, bf16
    /// IEEE half inputs with Float32 accumulation: GPUs only.
    case fp16
    /// int8 encoder products (quantised weights and activations), on the CPU: only when asked for by name.
    case int8
    /// bf16 on a GPU, or where the CPU multiplies bf16 natively (AVX512-BF16, AMX); fp32 otherwise;
    /// never int8, whose scores differ from fp32's by more than rounding.
    case auto

    /// The precision to run with on this CPU.
    var resolved: Precision { resolved(on: .cpu) }

    /// The precision to run with on `device`.
    func resolved(on device: Device) -> Precision {
        switch self {
        case .fp32: return .fp32
        case .bf16: return .bf16
        case .fp16: return .fp16
        case .int8: return .int8
        case .auto: return device.isGPU ? .bf16 : .automatic
        }
    }

    /// What `--help` says of bf16 on CPUs without native bf16.
    static let emulationNote = "On an AVX-512 CPU without native bf16 (AVX512-BF16 or AMX), bf16 runs oneDNN's emulation, "
        + "about five times slower than fp32: a warning says so."

    /// The warning for running `precision` on a CPU that multiplies bf16 `native`ly or not, and
    /// runs bf16 `products` at all (AVX-512) or not; nil when there is nothing to say.
    static func emulationWarning(_ precision: Precision, native: Bool = Precision.nativeBFloat16Available,
                                 products: Bool = Precision.bfloat16ProductsAvailable) -> String? {
        guard precision == .bf16, !native, products else { return nil }
        return "warning: --precision bf16: this CPU has AVX-512 but no native bf16 (AVX512-BF16 or AMX), so oneDNN "
            + "emulates the bf16 products, about five times slower than fp32; --precision fp32 (or auto) is faster here"
    }

    /// Prints ``emulationWarning(_:native:products:)`` to standard error, if there is one.
    static func warnIfEmulated(_ precision: Precision) {
        guard let warning = emulationWarning(precision) else { return }
        FileHandle.standardError.write(Data((warning + "\n").utf8))
    }

    /// A comma-separated list such as `fp32,bf16` (for commands that compare precisions).
    static func list(_ text: String) throws -> [PrecisionChoice] {
        try text.split(separator: ",").map { name in
            guard let choice = PrecisionChoice(rawValue: String(name)) else {
                throw ValidationError("unknown precision '\(name)': use fp32, bf16, fp16, int8 or auto")
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
