/// The backend that runs a model on a ``Device``.
enum ComputeBackends {
    /// A backend for `device` whose products run in `precision`. The CPU's is always there.
    static func backend(for device: Device, precision: Precision) throws -> any ComputeBackend {
        switch device {
        case .cpu:
            guard precision != .fp16 else {
                throw ModelError.invalidInput("--precision fp16 runs on a GPU only; on the CPU use fp32 or bf16")
            }
            return CPUBackend(precision: precision)
        case .cuda:
            throw ModelError.invalidInput("--device \(device): this build has no GPU backend")
        }
    }
}
