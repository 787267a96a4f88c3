import CKernels

/// Scheduling priority of the threads that run the compute kernels.
public enum ComputePriority {
    /// Raises the niceness of the calling thread and of the OpenMP team that runs its matrix
    /// products by `increment` (Linux: per thread; other threads of the process keep theirs).
    ///
    /// A service calls this on its model thread so that, while the model keeps both cores busy,
    /// the threads that accept connections, answer health checks and reject over-limit requests
    /// are scheduled first. With the machine otherwise idle the model's speed is unchanged.
    /// - Returns: how many threads were changed (0 where the system refused).
    @discardableResult
    public static func lowerCurrentThreads(by increment: Int) -> Int {
        Int(lcr_lower_compute_priority(Int32(clamping: increment)))
    }
}
