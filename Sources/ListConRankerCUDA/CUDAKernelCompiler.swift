import CCUDA
import Foundation

/// Compiles the backend's CUDA C (``CUDAKernelSource``) with NVRTC to a cubin for one GPU
/// architecture, and keeps the cubin on disk so later runs skip the compile.
///
/// The cache key is the source's hash, the architecture, the NVRTC version and the options; the
/// file is written to a temporary name and renamed, so concurrent processes never read half a
/// cubin. NVRTC needs no GPU: CI compiles every kernel this way.
public struct CUDAKernelCompiler: Sendable {
    /// Options every compile passes to NVRTC.
    public static let options = ["--std=c++17"]

    /// Where cubins are kept: `$LISTCONRANKER_CUDA_CACHE`, else `$XDG_CACHE_HOME/listconranker/cuda`,
    /// else `~/.cache/listconranker/cuda`. Nil disables the disk cache.
    public var cacheDirectory: URL?

    /// A compiler with the default cache folder.
    public init(cacheDirectory: URL? = CUDAKernelCompiler.defaultCacheDirectory()) {
        self.cacheDirectory = cacheDirectory
    }

    /// The default cache folder for this process's environment.
    public static func defaultCacheDirectory(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> URL? {
        if let explicit = environment["LISTCONRANKER_CUDA_CACHE"], !explicit.isEmpty {
            return URL(fileURLWithPath: explicit)
        }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("listconranker/cuda")
        }
        return URL(fileURLWithPath: NSHomeDirectory()).appendingPathComponent(".cache/listconranker/cuda")
    }

    /// A compiled module: the cubin's bytes, and whether they came from the disk cache.
    public struct Compiled: Sendable {
        /// The cubin.
        public let cubin: [UInt8]
        /// True when read from the cache rather than compiled now.
        public let fromCache: Bool
        /// NVRTC's warnings, if any (empty when read from the cache).
        public let log: String
    }

    /// The cubin of `source` for `architecture` (such as `sm_90`); NVRTC must be loaded
    /// (``CUDALibraries/loadCompiler(locator:)``).
    public func compile(_ source: String = CUDAKernelSource.source, architecture: String) throws -> Compiled {
        guard let version = CUDALibraries.compilerVersion else { throw CUDAError("NVRTC is not loaded") }
        let key = Self.cacheKey(source: source, architecture: architecture, nvrtcVersion: version)
        let file = cacheDirectory?.appendingPathComponent("kernels-\(architecture)-\(key).cubin")
        if let file, let data = try? Data(contentsOf: file), !data.isEmpty {
            return Compiled(cubin: [UInt8](data), fromCache: true, log: "")
        }
        var cubin: UnsafeMutableRawPointer?
        var size = 0
        var log = [CChar](repeating: 0, count: 16384)
        let status = withCStrings(Self.options) { options in
            lcr_nvrtc_compile(source, "listconranker_kernels.cu", architecture, options, Int32(Self.options.count),
                              &cubin, &size, &log, log.count)
        }
        let logText = String(nulTerminated: log)
        guard status == 0, let cubin else {
            throw CUDAError("NVRTC \(version) could not compile the GPU kernels for \(architecture): \(logText)")
        }
        defer { lcr_cuda_free_host(cubin) }
        let bytes = [UInt8](UnsafeRawBufferPointer(start: cubin, count: size))
        if let file { Self.store(bytes, at: file) }
        return Compiled(cubin: bytes, fromCache: false, log: logText)
    }

    /// FNV-1a (64 bits) of everything the cubin depends on: a cache key, not a security hash.
    static func cacheKey(source: String, architecture: String, nvrtcVersion: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(source)\u{0}\(architecture)\u{0}\(nvrtcVersion)\u{0}\(options.joined(separator: " "))".utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return String(hash, radix: 16)
    }

    /// Writes the cubin under a temporary name, then renames it into place; a cache that cannot be
    /// written (a read-only home) costs a compile next time, nothing more.
    private static func store(_ bytes: [UInt8], at file: URL) {
        let directory = file.deletingLastPathComponent()
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let temporary = directory.appendingPathComponent(".\(file.lastPathComponent).\(getpid()).tmp")
        guard (try? Data(bytes).write(to: temporary)) != nil else { return }
        if rename(temporary.path, file.path) != 0 { try? FileManager.default.removeItem(at: temporary) }
    }
}
