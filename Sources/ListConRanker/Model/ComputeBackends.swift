import ListConRankerCUDA

/// The backend that runs a model on a ``Device``.
enum ComputeBackends {
    /// Builds something on the backend for `device` whose products run in `precision`, calling
    /// `cpu` or `cuda` with the backend as its concrete type: each closure then compiles the
    /// model's generic forward for that backend (specialised, as if written for it), where an
    /// `any ComputeBackend` would run it through protocol witnesses. The CPU's backend is always
    /// there; a GPU's needs its libraries at run time, and the error says what was looked for and
    /// where.
    static func select<Result>(_ device: Device, precision: Precision,
                               cpu: (CPUBackend) throws -> Result,
                               cuda: (CUDABackend) throws -> Result) throws -> Result {
        switch device {
        case .cpu:
            guard precision != .fp16 else {
                throw ModelError.invalidInput("--precision fp16 runs on a GPU only; on the CPU use fp32, bf16 or int8")
            }
            return try cpu(CPUBackend(precision: precision))
        case .cuda(let index):
            return try cuda(CUDABackend(index: index, precision: precision))
        }
    }
}
