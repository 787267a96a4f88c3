import Foundation
import ListConRankerCUDA
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The software CUDA device of `tools/cuda-emulator` (built into `.build/cuda-emulator` by
/// `tools/fetch-test-models.sh`): NVIDIA's libcuda, cuBLASLt and NVRTC replaced by libraries that
/// run the backend's CUDA C and products on the CPU with CUDA's documented semantics, so that the
/// whole `--device cuda` path runs, and its numbers are checked, on a machine without a GPU.
///
/// NVRTC stays NVIDIA's where `.models/nvrtc` has it (the process shares one NVRTC with the kernel
/// compile tests, which must see the real one); the emulated driver then runs the kernels' CUDA
/// C, registered here, instead of the cubin it is handed.
public final class SoftwareCUDADevice: @unchecked Sendable {
    /// The repository's root (this file is `Tests/CUDAEmulation/SoftwareCUDADevice.swift`).
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// Where `tools/fetch-test-models.sh` builds the device.
    public static let folder = repositoryRoot.appendingPathComponent(".build/cuda-emulator", isDirectory: true)

    private let library: UnsafeMutableRawPointer

    private init(library: UnsafeMutableRawPointer) { self.library = library }

    /// The device, loaded once per process; a failure (with the reason) when it is not built or a real
    /// CUDA driver was loaded first.
    public static let shared: Result<SoftwareCUDADevice, any Error> = Result { try load() }

    private static func load() throws -> SoftwareCUDADevice {
        let driver = folder.appendingPathComponent("libcuda.so.1").path
        guard FileManager.default.fileExists(atPath: driver) else {
            throw CUDAError("the software CUDA device is not built (tools/cuda-emulator/build.sh \(folder.path))")
        }
        // The same path the loader opens below: one library, whoever opens it first.
        guard let library = dlopen(driver, RTLD_NOW | RTLD_LOCAL) else {
            throw CUDAError("dlopen \(driver): \(String(cString: dlerror()))")
        }
        let device = SoftwareCUDADevice(library: library)
        device.register(CUDAKernelSource.source)
        let nvrtc = repositoryRoot.appendingPathComponent(".models/nvrtc").path
        let folders = [FileManager.default.fileExists(atPath: nvrtc) ? nvrtc : nil, folder.path].compactMap { $0 }
        try CUDALibraries.loadAll(locator: CUDALibraryLocator(
            environment: ["LISTCONRANKER_CUDA_PATH": folders.joined(separator: ":")], home: folder.path))
        guard CUDALibraries.loadedPaths.driver.hasPrefix(folder.path) else {
            throw CUDAError("a real CUDA driver is loaded (\(CUDALibraries.loadedPaths.driver)): not emulated here")
        }
        // Every buffer handed out uncleared is NaN until written, reused or not.
        CUDAFloatArray.poisonsUninitialisedMemory = true
        return device
    }

    private func function<T>(_ name: String, as type: T.Type) -> T {
        guard let symbol = dlsym(library, name) else { fatalError("the software CUDA device has no \(name)") }
        return unsafeBitCast(symbol, to: type)
    }

    /// Has the driver run `source`'s kernels in place of the cubins compiled from it (a module
    /// of kernels other than the inference backend's: the GPU trainer's). Once per source is enough.
    public func register(_ source: String) {
        typealias AddSource = @convention(c) (UnsafePointer<CChar>) -> Int32
        _ = function("lcr_emulator_add_source", as: AddSource.self)(source)
    }

    /// Allocations made and freed by the driver, bytes allocated now, and kernels launched.
    public var counters: (allocated: UInt64, freed: UInt64, liveBytes: UInt64, launches: UInt64) {
        typealias Counters = @convention(c) (UnsafeMutablePointer<UInt64>?, UnsafeMutablePointer<UInt64>?,
                                             UnsafeMutablePointer<UInt64>?, UnsafeMutablePointer<UInt64>?) -> Void
        var allocated: UInt64 = 0, freed: UInt64 = 0, live: UInt64 = 0, launches: UInt64 = 0
        function("lcr_emulator_counters", as: Counters.self)(&allocated, &freed, &live, &launches)
        return (allocated, freed, live, launches)
    }

    /// The device's memory size (0: the default again).
    public func setMemoryLimit(_ bytes: Int) {
        typealias SetLimit = @convention(c) (Int) -> Void
        function("lcr_emulator_set_memory_limit", as: SetLimit.self)(bytes)
    }

    /// The device for a test, running `sources`' kernels too: nil where it cannot run, which
    /// fails the test under CI.
    public static func forTest(registering sources: [String] = []) -> SoftwareCUDADevice? {
        switch shared {
        case .success(let device):
            for source in sources { device.register(source) }
            return device
        case .failure(let reason):
            #expect(ProcessInfo.processInfo.environment["CI"] == nil,
                    "CI runs the CUDA backend on the software CUDA device: \(reason)")
            print("software CUDA device tests skipped: \(reason)")
            return nil
        }
    }
}

