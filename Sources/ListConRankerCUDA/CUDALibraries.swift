import CCUDA
import Foundation

/// The CUDA libraries, loaded once per process with `dlopen` from where ``CUDALibraryLocator``
/// finds them. Nothing of CUDA is linked at build time.
public enum CUDALibraries {
    /// What a failed load tells users to do.
    static let advice = "install the NVIDIA driver and CUDA 12 or 13 (or a Python environment with PyTorch's "
        + "CUDA wheels), or point LISTCONRANKER_CUDA_PATH at the libraries"

    /// Loads NVRTC (enough to compile kernels; no GPU or driver needed).
    public static func loadCompiler(locator: CUDALibraryLocator = CUDALibraryLocator()) throws {
        try load("NVRTC", locator: locator, lcr_cuda_load_nvrtc)
    }

    /// Loads the driver, cuBLASLt and NVRTC: everything the GPU backend needs.
    public static func loadAll(locator: CUDALibraryLocator = CUDALibraryLocator()) throws {
        try load("the CUDA driver", locator: locator, lcr_cuda_load_driver)
        try load("cuBLASLt", locator: locator, lcr_cuda_load_cublaslt)
        try load("NVRTC", locator: locator, lcr_cuda_load_nvrtc)
    }

    /// Where each library was loaded from (empty when it was not).
    public static var loadedPaths: (driver: String, cublasLt: String, nvrtc: String) {
        (String(cString: lcr_cuda_loaded_path(0)), String(cString: lcr_cuda_loaded_path(1)),
         String(cString: lcr_cuda_loaded_path(2)))
    }

    /// NVRTC's version, such as `13.0` (NVRTC must be loaded).
    public static var compilerVersion: String? {
        var major: Int32 = 0, minor: Int32 = 0
        return lcr_nvrtc_version(&major, &minor) == 0 ? "\(major).\(minor)" : nil
    }

    private static func load(_ name: String, locator: CUDALibraryLocator,
                             _ loader: (UnsafePointer<UnsafePointer<CChar>?>?, Int32, UnsafeMutablePointer<CChar>?, Int) -> Int32) throws {
        let directories = locator.searchDirectories()
        var message = [CChar](repeating: 0, count: 2048)
        let status = withCStrings(directories) { pointers in
            message.withUnsafeMutableBufferPointer { loader(pointers, Int32(directories.count), $0.baseAddress, $0.count) }
        }
        guard status == 0 else {
            throw CUDAError("--device cuda needs \(name), which could not be loaded: \(String(nulTerminated: message)); \(advice)")
        }
    }
}

/// Calls `body` with the strings as an array of C strings that lives for the call.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) throws -> R) rethrows -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { UnsafePointer<CChar>($0) }
    return try pointers.withUnsafeBufferPointer { try body($0.baseAddress) }
}
