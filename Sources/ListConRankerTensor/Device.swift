/// Where a model runs: the CPU, or one CUDA GPU by its index (as `nvidia-smi` and
/// `CUDA_VISIBLE_DEVICES` number them).
public enum Device: Sendable, Hashable, CustomStringConvertible {
    /// The CPU (oneDNN).
    case cpu
    /// CUDA GPU number `index`, from 0.
    case cuda(index: Int)

    /// Parses what users write: `cpu`, `cuda` (GPU 0) or `cuda:N`. Nil for anything else.
    public init?(_ text: String) {
        let lowered = text.lowercased()
        if lowered == "cpu" { self = .cpu; return }
        if lowered == "cuda" { self = .cuda(index: 0); return }
        guard lowered.hasPrefix("cuda:"), let index = Int(lowered.dropFirst(5)), index >= 0,
              !lowered.dropFirst(5).hasPrefix("+") else { return nil }
        self = .cuda(index: index)
    }

    /// `cpu` or `cuda:N`: what ``init(_:)`` reads back.
    public var description: String {
        switch self {
        case .cpu: return "cpu"
        case .cuda(let index): return "cuda:\(index)"
        }
    }

    /// Whether this is a GPU.
    public var isGPU: Bool {
        if case .cuda = self { return true }
        return false
    }
}
