import Foundation

/// Where the GPU backend looks for the CUDA libraries, in order (the directories it hands to
/// `dlopen`; an empty string is the dynamic loader's own search):
///
/// 1. `LISTCONRANKER_CUDA_PATH` (directories separated by `:`; each with its `lib64` and `lib`),
/// 2. `CUDA_HOME`, then `CUDA_PATH` (their `lib64`, `lib` and `targets/x86_64-linux/lib`),
/// 3. the dynamic loader's paths (`LD_LIBRARY_PATH`, `ld.so.cache`),
/// 4. the driver's folder in NVIDIA's containers (`/usr/local/nvidia/lib64`),
/// 5. the `nvidia/*/lib` folders of Python environments, where PyTorch's wheels put cuBLAS and
///    NVRTC: `VIRTUAL_ENV`, `CONDA_PREFIX`, the environment of each `python3` on `PATH`, the user's
///    `~/.local`, and the system's `dist-packages`.
///
/// Only directories that exist are listed (the loader's search always is).
public struct CUDALibraryLocator: Sendable {
    /// The environment the search reads.
    public var environment: [String: String]
    /// The user's home folder, for `~/.local`.
    public var home: String

    /// A locator over this process's environment.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                home: String = NSHomeDirectory()) {
        self.environment = environment
        self.home = home
    }

    /// The directories to search, in order, without repeats.
    public func searchDirectories() -> [String] {
        var result = [String]()
        func add(_ directory: String) {
            guard directory.isEmpty || isDirectory(directory) else { return }
            if !result.contains(directory) { result.append(directory) }
        }
        for root in (environment["LISTCONRANKER_CUDA_PATH"] ?? "").split(separator: ":").map(String.init) {
            add(root); add(root + "/lib64"); add(root + "/lib")
        }
        for variable in ["CUDA_HOME", "CUDA_PATH"] {
            if let root = environment[variable], !root.isEmpty {
                add(root + "/lib64"); add(root + "/lib"); add(root + "/targets/x86_64-linux/lib")
            }
        }
        add("")
        add("/usr/local/nvidia/lib64")
        add("/usr/local/nvidia/lib")
        for packages in pythonPackageDirectories() {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: packages + "/nvidia"))?.sorted() ?? [] {
                add("\(packages)/nvidia/\(name)/lib")
            }
        }
        return result
    }

    /// `site-packages` and `dist-packages` folders of the Python environments users have.
    func pythonPackageDirectories() -> [String] {
        var prefixes = [String]()
        for variable in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
            if let prefix = environment[variable], !prefix.isEmpty { prefixes.append(prefix) }
        }
        for directory in (environment["PATH"] ?? "").split(separator: ":").map(String.init) {
            let python = directory + "/python3"
            if FileManager.default.isExecutableFile(atPath: python) {
                prefixes.append((directory as NSString).deletingLastPathComponent)
            }
        }
        prefixes.append(home + "/.local")
        prefixes += ["/usr/local", "/usr"]
        var result = [String]()
        for prefix in prefixes {
            let lib = prefix + "/lib"
            let versions = ((try? FileManager.default.contentsOfDirectory(atPath: lib)) ?? [])
                .filter { $0.hasPrefix("python3") }.sorted()
            for version in versions {
                for kind in ["site-packages", "dist-packages"] {
                    let packages = "\(lib)/\(version)/\(kind)"
                    if isDirectory(packages + "/nvidia"), !result.contains(packages) { result.append(packages) }
                }
            }
        }
        return result
    }

    private func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }
}
