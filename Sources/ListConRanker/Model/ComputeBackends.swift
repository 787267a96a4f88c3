import ListConRankerCUDA

/// The backend that runs a model on a ``Device``.
enum ComputeBackends {
    /// A backend for `device` whose products run in `precision`. The CPU's is always there; a
    /// GPU's needs its libraries at run time, and the error says what was looked for and where.
    static func backend(for device: Device, precision: Precision) throws -> any ComputeBackend {
        switch device {
        case .cpu:
            guard precision != .fp16 else {
                throw ModelError.invalidInput("--precision fp16 runs on a GPU only; on the CPU use fp32 or bf16")
            }
            return CPUBackend(precision: precision)
        case .cuda(let index):
            return try CUDABackend(index: index, precision: precision)
        }
    }
}
