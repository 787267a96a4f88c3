import CCUDA
import Foundation

/// Kernels compiled from CUDA C by NVRTC (through ``CUDAKernelCompiler``'s disk cache) and loaded
/// on one GPU, found by name: how code outside the inference backend (the GPU trainer) brings
/// kernels of its own.
package final class CUDAKernelModule: @unchecked Sendable {
    /// The GPU it is loaded on.
    package let device: CUDADevice
    private let functions: [String: UnsafeMutableRawPointer]

    /// Compiles `source` for `device`'s architecture (or reads the cached cubin), loads it and looks
    /// up every kernel of `kernels`.
    package init(source: String, kernels: [String], on device: CUDADevice) throws {
        try device.bind()
        let architecture = "sm_\(device.computeCapability.major)\(device.computeCapability.minor)"
        let compiled = try CUDAKernelCompiler().compile(source, architecture: architecture)
        var module: UnsafeMutableRawPointer?
        try compiled.cubin.withUnsafeBytes { bytes in
            try cudaCall("loading GPU kernels") { lcr_cuda_module_load(&module, bytes.baseAddress, $0, $1) }
        }
        var found = [String: UnsafeMutableRawPointer]()
        for kernel in kernels {
            var function: UnsafeMutableRawPointer?
            try cudaCall("looking up kernel \(kernel)") { lcr_cuda_module_function(&function, module, kernel, $0, $1) }
            found[kernel] = function
        }
        self.device = device
        functions = found
    }

    /// Launches kernel `name` on the device's stream: `block` threads a block, `grid` blocks.
    package func launch(_ name: String, grid: (Int, Int, Int), block: Int, sharedBytes: Int = 0,
                        _ arguments: [KernelArgument]) throws {
        guard let function = functions[name] else { throw CUDAError("no GPU kernel named \(name)") }
        guard grid.0 > 0, grid.1 > 0, grid.2 > 0 else { return }
        try device.launch(function: function, name: name, grid: grid, block: block, sharedBytes: sharedBytes, arguments)
    }

    /// Launches an element-wise kernel over `count` elements (grid-stride loops: at most 4096 blocks).
    package func launch(_ name: String, elements count: Int, _ arguments: [KernelArgument]) throws {
        guard count > 0 else { return }
        try launch(name, grid: (min((count + 255) / 256, 4096), 1, 1), block: 256, arguments)
    }
}

/// A Float32 array in a GPU's memory, given back to its pool when the last reference goes.
package final class CUDAFloatArray: @unchecked Sendable {
    /// Elements.
    package let count: Int
    /// The device address of the first element.
    package let address: UInt64
    private let size: Int
    private let pool: CUDAMemoryPool

    /// `count` zeros on `device`.
    package init(zeros count: Int, on device: CUDADevice) throws {
        self.count = count
        pool = device.pool
        (address, size) = try pool.allocate(max(count, 1) * 4)
        try cudaCall("clearing GPU memory") { lcr_cuda_zero(address, max(count, 1) * 4, device.stream, $0, $1) }
        try device.kernelTimes.enqueued("memset", on: device.stream)
    }

    /// `count` slots on `device`, not cleared: for scratch that a kernel writes whole before
    /// anything reads it (the bf16 copies of training's products, the trainer's activations), where
    /// clearing would cost as much memory traffic as the kernel itself. Under
    /// ``poisonsUninitialisedMemory`` they come filled with NaN instead.
    package init(uninitialised count: Int, on device: CUDADevice) throws {
        self.count = count
        pool = device.pool
        (address, size) = try pool.allocate(max(count, 1) * 4)
        if Self.poisonsUninitialisedMemory {
            try cudaCall("filling GPU memory") { lcr_cuda_fill(address, 0xff, size, device.stream, $0, $1) }
        }
    }

    /// Whether uninitialised arrays come filled with 0xff bytes (NaN in every element), so that a
    /// kernel that reads a slot nobody wrote shows in its results: set by the tests. A fresh block
    /// from the software CUDA device comes so filled anyway; this covers the blocks the pool
    /// hands out again, which hold whatever their last user left.
    nonisolated(unsafe) package static var poisonsUninitialisedMemory = false

    deinit { pool.recycle(address, size: size) }
}

extension CUDADevice {
    /// Copies `values` to `address` (enqueued on the stream; `values` is read before this returns).
    package func upload(_ values: [Float], to address: UInt64) throws {
        guard !values.isEmpty else { return }
        try bind()
        try values.withUnsafeBytes { bytes in
            try cudaCall("copying to the GPU") {
                lcr_cuda_upload(address, bytes.baseAddress, bytes.count, stream, $0, $1)
            }
        }
        try kernelTimes.enqueued("copy_to_device", on: stream)
    }

    /// `count` Float32 values from `address`, after everything enqueued before.
    package func download(_ address: UInt64, count: Int) throws -> [Float] {
        guard count > 0 else { return [] }
        try bind()
        var values = [Float](repeating: 0, count: count)
        try values.withUnsafeMutableBytes { bytes in
            try cudaCall("reading back from the GPU") {
                lcr_cuda_download(bytes.baseAddress, address, bytes.count, stream, $0, $1)
            }
        }
        return values
    }

    /// `count` Int32 values to a new buffer (row indices, lengths), as raw Float32 storage.
    package func upload(int32 values: [Int32]) throws -> CUDAFloatArray {
        try upload(raw: values, slots: values.count)
    }

    /// `count` Int64 values to a new buffer (offsets), as raw storage of `2·count` Float32 slots.
    package func upload(int64 values: [Int64]) throws -> CUDAFloatArray {
        try upload(raw: values, slots: 2 * values.count)
    }

    /// `values`' bytes in a new buffer of `slots` Float32 slots, which the copy fills (not cleared first).
    private func upload<Element>(raw values: [Element], slots: Int) throws -> CUDAFloatArray {
        let array = try CUDAFloatArray(uninitialised: slots, on: self)
        guard !values.isEmpty else { return array }
        try values.withUnsafeBytes { bytes in
            try cudaCall("copying to the GPU") {
                lcr_cuda_upload(array.address, bytes.baseAddress, bytes.count, stream, $0, $1)
            }
        }
        try kernelTimes.enqueued("copy_to_device", on: stream)
        return array
    }

    /// Row-major `C[m, n] = op(A)[m, k] · op(B)[k, n] + beta · C` on cuBLASLt with Float32 accumulation:
    /// A and B of `inputs` (Float32 by default, then no TF32; `.bfloat16` for mixed-precision
    /// training's bf16 copies; leading dimensions count elements of that type), `C` Float32 or, with
    /// `output` the inputs' 16-bit type, that type (the Float32 sum rounded once: an output only
    /// products read).
    package func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, inputs: CUDAElement = .float32,
                      output: CUDAElement = .float32, a: UInt64, lda: Int, b: UInt64, ldb: Int, beta: Float, c: UInt64,
                      ldc: Int) throws {
        guard inputs != .int32 else { throw CUDAError("a matrix product's inputs must be floating point") }
        guard output == .float32 || output == inputs else {
            throw CUDAError("a matrix product's output is Float32 or of its inputs' type")
        }
        try bind()
        try cudaCall("a matrix product on the GPU") {
            lcr_cublaslt_gemm(blas, stream, transA ? 1 : 0, transB ? 1 : 0, Int64(m), Int64(n), Int64(k),
                              inputs.code, output.code, a, Int64(lda), b, Int64(ldb), beta, c, Int64(ldc), $0, $1)
        }
        try kernelTimes.enqueued("cublaslt_gemm_\(inputs.suffix)", on: stream)
    }

    /// Row-major `y[rows, n] = x[rows, k] · W[n, k]ᵀ + bias` (dense `x` and `W` of `inputs`, Float32
    /// accumulation without TF32, a Float32 bias; `bias` 0 for none), the bias added in the product's
    /// epilogue on cuBLASLt, so that no second pass over `y` adds it. `y` is Float32, or for bf16
    /// inputs bf16 too: the Float32 sum rounded once.
    package func linear(x: UInt64, weight: UInt64, bias: UInt64, y: UInt64, rows: Int, n: Int, k: Int,
                        inputs: CUDAElement, output: CUDAElement = .float32) throws {
        guard inputs != .int32 else { throw CUDAError("a matrix product's inputs must be floating point") }
        guard output == .float32 || output == inputs else {
            throw CUDAError("a linear layer's output is Float32 or of its inputs' type")
        }
        try bind()
        try cudaCall("a linear layer on the GPU") {
            lcr_cublaslt_linear(blas, stream, x, weight, bias, y, Int64(rows), Int64(n), Int64(k), inputs.code,
                                output.code, LCR_EPILOGUE_BIAS, $0, $1)
        }
        try kernelTimes.enqueued("cublaslt_linear_\(inputs.suffix)", on: stream)
    }

    /// Bytes new buffers can take: the driver's free memory and what the pool caches (an
    /// allocation that finds no room gives the cache back to the driver first).
    package func availableBytes() throws -> Int {
        try bind()
        var free = 0, total = 0
        try cudaCall("asking the GPU for its free memory") { lcr_cuda_free_memory(&free, &total, $0, $1) }
        return free + pool.cachedBytes
    }

    /// The most memory the pool has held from the driver at once since the device was opened (in
    /// use or cached for reuse; the CUDA context's own not included): what `train --profile`
    /// reports as a run's measured peak.
    package var peakHeldBytes: Int { pool.peakHeldBytes }

    /// Waits for everything enqueued on the device's stream.
    package func synchronize() throws {
        try cudaCall("waiting for the GPU") { lcr_cuda_stream_synchronize(stream, $0, $1) }
    }
}
