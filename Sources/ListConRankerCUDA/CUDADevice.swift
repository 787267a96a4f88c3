import CCUDA
import Foundation

/// One GPU opened for a backend: its primary context, a stream of its own, a cuBLASLt handle, the
/// compiled kernels and a memory pool. Opened once per GPU and shared by the models on it
/// (``shared(index:)``); everything it enqueues goes on its one stream, in order.
public final class CUDADevice: @unchecked Sendable {
    /// The GPU's number.
    public let index: Int
    /// The card's name, such as `NVIDIA H100 80GB HBM3`.
    public let name: String
    /// Compute capability, such as `(9, 0)`.
    public let computeCapability: (major: Int, minor: Int)
    /// The card's memory in bytes.
    public let totalMemory: Int
    let stream: UnsafeMutableRawPointer
    let blas: OpaquePointer
    let pool = CUDAMemoryPool()
    /// Per-kernel times for profiling, when started.
    let kernelTimes = CUDAKernelTimes()
    private let functions: [String: UnsafeMutableRawPointer]

    private static let lock = NSLock()
    nonisolated(unsafe) private static var opened: [Int: CUDADevice] = [:]

    /// The device for GPU `index`, opened on first use: loads the libraries, compiles (or reads
    /// from the cache) the kernels for the card's architecture. Errors say what is missing.
    public static func shared(index: Int) throws -> CUDADevice {
        try lock.withLock {
            if let device = opened[index] { return device }
            let device = try CUDADevice(index: index)
            opened[index] = device
            return device
        }
    }

    private init(index: Int) throws {
        try CUDALibraries.loadAll()
        var nameBuffer = [CChar](repeating: 0, count: 256)
        var major: Int32 = 0, minor: Int32 = 0
        var total = 0
        try cudaCall("--device cuda:\(index)") {
            lcr_cuda_open_device(Int32(index), &nameBuffer, nameBuffer.count, &major, &minor, &total, $0, $1)
        }
        self.index = index
        name = String(nulTerminated: nameBuffer)
        computeCapability = (Int(major), Int(minor))
        totalMemory = total
        var createdStream: UnsafeMutableRawPointer?
        try cudaCall("creating a CUDA stream") { lcr_cuda_stream_create(&createdStream, $0, $1) }
        stream = createdStream!
        var createdBlas: OpaquePointer?
        // 32 MiB of workspace: what cuBLAS itself uses on Hopper.
        try cudaCall("creating a cuBLASLt handle") { lcr_cublaslt_create(&createdBlas, 32 << 20, $0, $1) }
        blas = createdBlas!
        let compiled = try CUDAKernelCompiler().compile(architecture: "sm_\(major)\(minor)")
        var module: UnsafeMutableRawPointer?
        try compiled.cubin.withUnsafeBytes { bytes in
            try cudaCall("loading the GPU kernels") { lcr_cuda_module_load(&module, bytes.baseAddress, $0, $1) }
        }
        var found = [String: UnsafeMutableRawPointer]()
        for kernel in CUDAKernelSource.allKernelNames {
            var function: UnsafeMutableRawPointer?
            try cudaCall("looking up kernel \(kernel)") { lcr_cuda_module_function(&function, module, kernel, $0, $1) }
            found[kernel] = function!
        }
        functions = found
    }

    /// Why this GPU can no longer run anything, or nil while it can: the first error the driver
    /// documents as leaving the context unusable (an illegal address, a failed launch, an
    /// uncorrectable ECC error, …). From then on every call fails the same way until the process
    /// exits: nothing but a restart brings the GPU back.
    public var failure: String? {
        var buffer = [CChar](repeating: 0, count: 512)
        return lcr_cuda_device_failure(Int32(index), &buffer, buffer.count) != 0 ? String(nulTerminated: buffer) : nil
    }

    /// Makes this GPU current on the calling thread (free when it already is).
    func bind() throws {
        try cudaCall("--device cuda:\(index)") { lcr_cuda_bind_thread(Int32(index), $0, $1) }
    }

    /// Launches kernel `name` with one argument per value (each an Int32, Int, Float or device
    /// address, passed by pointer as cuLaunchKernel takes them).
    func launch(_ name: String, grid: (Int, Int, Int), block: Int, sharedBytes: Int = 0,
                _ arguments: [KernelArgument]) throws {
        guard let function = functions[name] else { throw CUDAError("no GPU kernel named \(name)") }
        try launch(function: function, name: name, grid: grid, block: block, sharedBytes: sharedBytes, arguments)
    }

    /// Launches a kernel of any module loaded on this GPU (`name` for errors).
    func launch(function: UnsafeMutableRawPointer, name: String, grid: (Int, Int, Int), block: Int, sharedBytes: Int,
                _ arguments: [KernelArgument]) throws {
        // A block past the kernel's registers fails on the GPU with a bare "too many resources
        // requested"; the software device has no registers, so the limit is checked here for both
        // (the common limit first: a name is looked up only for a larger block).
        if block > CUDAKernelSource.largestBlock {
            let limit = CUDAKernelSource.largestBlock(of: name)
            guard block <= limit else { throw CUDAError("kernel \(name) takes blocks of at most \(limit) threads, not \(block)") }
        }
        var storage = arguments.map(\.bits)
        try storage.withUnsafeMutableBufferPointer { values in
            var pointers: [UnsafeMutableRawPointer?] = (0..<values.count).map { UnsafeMutableRawPointer(values.baseAddress! + $0) }
            try pointers.withUnsafeMutableBufferPointer { list in
                try cudaCall("launching \(name)") {
                    lcr_cuda_launch(function, UInt32(grid.0), UInt32(grid.1), UInt32(grid.2), UInt32(block), 1, 1,
                                    UInt32(sharedBytes), stream, list.baseAddress, $0, $1)
                }
            }
        }
        try kernelTimes.enqueued(name, on: stream)
    }
}

/// A kernel argument as the 8 bytes cuLaunchKernel reads from its pointer: the kernels take
/// 4-byte ints and floats (read from the low bytes, little-endian) and 8-byte addresses and longs.
package enum KernelArgument {
    case int32(Int32)
    case int64(Int)
    case float(Float)
    case address(UInt64)

    var bits: UInt64 {
        switch self {
        case .int32(let value): return UInt64(UInt32(bitPattern: value))
        case .int64(let value): return UInt64(bitPattern: Int64(value))
        case .float(let value): return UInt64(value.bitPattern)
        case .address(let value): return value
        }
    }
}
