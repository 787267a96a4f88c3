import CCUDA
import Foundation

/// Device memory for one GPU, reused in stream order (as PyTorch's caching allocator does).
///
/// Every kernel and copy of a backend runs on its one stream, so a buffer freed after its last
/// use was enqueued may serve the next allocation at once: the stream runs the next use after the
/// last. Freeing to the driver instead would synchronise the device at every layer. Sizes are
/// rounded (to a power of two under 1 MiB, else to 2 MiB) so that the padded shapes of packed
/// batches meet the same blocks again.
final class CUDAMemoryPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [Int: [UInt64]] = [:]
    /// Bytes held from the driver (in use or cached).
    private(set) var reservedBytes = 0
    /// The most bytes ever held.
    private var peakReservedBytes = 0

    /// The most bytes ever held from the driver at once.
    var peakHeldBytes: Int { lock.withLock { peakReservedBytes } }

    /// A buffer of at least `bytes`; throws when the GPU has no room even after the cache is emptied.
    func allocate(_ bytes: Int) throws -> (address: UInt64, size: Int) {
        let size = Self.rounded(bytes)
        if let address = lock.withLock({ free[size]?.popLast() }) { return (address, size) }
        var address: UInt64 = 0
        var message = [CChar](repeating: 0, count: 512)
        var status = lcr_cuda_alloc(&address, size, &message, message.count)
        if status == Int32(LCR_CUDA_OUT_OF_MEMORY) {
            releaseCached()
            message = [CChar](repeating: 0, count: 512)
            status = lcr_cuda_alloc(&address, size, &message, message.count)
            if status == Int32(LCR_CUDA_OUT_OF_MEMORY) {
                throw CUDAError("the GPU has no room for \(Self.describe(size)) more (\(Self.describe(reservedBytes)) held by "
                                + "this model): a shorter list, fewer texts per batch (--encoder-batch-tokens) or "
                                + "--max-length would fit", cMessage: message)
            }
        }
        // Anything else is not about room: a kernel that failed earlier (the error sticks to the
        // context), a GPU that fell off the bus.
        guard status == 0 else {
            throw CUDAError("the GPU failed (a kernel or copy before this allocation, or the device)", cMessage: message)
        }
        lock.withLock {
            reservedBytes += size
            peakReservedBytes = max(peakReservedBytes, reservedBytes)
        }
        return (address, size)
    }

    /// Bytes of the buffers cached for reuse (held, not in use).
    var cachedBytes: Int { lock.withLock { free.reduce(0) { $0 + $1.key * $1.value.count } } }

    /// Returns a buffer for reuse by later allocations on the same stream.
    func recycle(_ address: UInt64, size: Int) {
        lock.withLock { free[size, default: []].append(address) }
    }

    /// Gives every cached (unused) buffer back to the driver.
    func releaseCached() {
        let cached: [(Int, [UInt64])] = lock.withLock {
            let all = free.map { ($0.key, $0.value) }
            free.removeAll()
            return all
        }
        for (size, addresses) in cached {
            for address in addresses { lcr_cuda_release(address) }
            lock.withLock { reservedBytes -= size * addresses.count }
        }
    }

    /// A size for a message: MiB, or KiB below one MiB (so that a small request does not read "0 MiB").
    static func describe(_ bytes: Int) -> String {
        bytes >= 1 << 20 ? "\((bytes + (1 << 19)) >> 20) MiB" : "\((bytes + 1023) >> 10) KiB"
    }

    static func rounded(_ bytes: Int) -> Int {
        let atLeast = max(bytes, 512)
        if atLeast < 1 << 20 { return 1 << (Int.bitWidth - (atLeast - 1).leadingZeroBitCount) }
        let block = 2 << 20
        return (atLeast + block - 1) / block * block
    }
}

/// The element types of device matrices.
public enum CUDAElement: Sendable, Equatable {
    case float32, bfloat16, float16
    /// Row indices and lengths that kernels read.
    case int32

    /// Bytes per element.
    package var size: Int { self == .float32 || self == .int32 ? 4 : 2 }
    /// The C layer's type code of a float element.
    var code: lcr_cuda_type {
        switch self {
        case .float32, .int32: return LCR_CUDA_F32
        case .bfloat16: return LCR_CUDA_BF16
        case .float16: return LCR_CUDA_F16
        }
    }
    /// The kernels' name suffix.
    var suffix: String {
        switch self {
        case .float32, .int32: return "f32"
        case .bfloat16: return "bf16"
        case .float16: return "f16"
        }
    }
}

/// A `[rows, columns]` matrix in device memory; its buffer goes back to the pool when the last
/// reference goes.
public final class CUDAMatrix: @unchecked Sendable {
    /// Rows.
    public let rows: Int
    /// Columns.
    public let columns: Int
    /// Element type.
    public let element: CUDAElement
    let address: UInt64
    private let size: Int
    private let pool: CUDAMemoryPool

    init(rows: Int, columns: Int, element: CUDAElement, pool: CUDAMemoryPool) throws {
        self.rows = rows
        self.columns = columns
        self.element = element
        self.pool = pool
        (address, size) = try pool.allocate(rows * columns * element.size)
    }

    deinit { pool.recycle(address, size: size) }

    /// Bytes of the elements.
    var byteCount: Int { rows * columns * element.size }
}
