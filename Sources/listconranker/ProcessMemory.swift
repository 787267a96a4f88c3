import CKernels

/// Allocator settings for this command-line process.
enum ProcessMemory {
    /// Serves large allocations from the heap and keeps freed memory for reuse. glibc maps
    /// every block over 32 MiB afresh and unmaps it when freed, so each layer's activations
    /// (tens of MiB) cost page faults and page clearing on every pass. A library must not
    /// change this for its host process; the CLI may.
    static func keepFreedMemoryForReuse() {
        lcr_keep_freed_memory_for_reuse()
    }
}
