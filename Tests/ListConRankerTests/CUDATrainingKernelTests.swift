import Foundation
import Testing
@testable import ListConRankerCUDA

/// The GPU trainer's kernels (issue 30), on a machine without a GPU: NVRTC compiles every one.
@Suite struct CUDATrainingKernelTests {
    @Test(arguments: ["sm_80", "sm_90"])
    func everyTrainingKernelCompilesWithNVRTC(_ architecture: String) throws {
        guard try Fixtures.loadNVRTC() else { return }
        let compiled = try CUDAKernelCompiler(cacheDirectory: nil)
            .compile(CUDATrainingKernelSource.source, architecture: architecture)
        #expect(compiled.log.isEmpty, "NVRTC warned: \(compiled.log)")
        for name in CUDATrainingKernelSource.kernelNames {
            #expect(compiled.cubin.firstRange(of: Array(name.utf8) + [0]) != nil, "kernel \(name) is missing from the cubin")
        }
    }

    /// A block larger than a kernel's registers allow fails to launch on a GPU ("too many resources
    /// requested"), which the software device, having no registers, cannot show. ptxas's counts in
    /// the cubins say every kernel of both modules fits the largest block the launches may ask for
    /// (`CUDADevice` refuses larger ones on either device).
    @Test(arguments: ["sm_80", "sm_90"])
    func everyKernelFitsItsLargestBlock(_ architecture: String) throws {
        guard try Fixtures.loadNVRTC() else { return }
        let compiler = CUDAKernelCompiler(cacheDirectory: nil)
        for (source, names) in [(CUDATrainingKernelSource.source, CUDATrainingKernelSource.kernelNames),
                                (CUDAKernelSource.source, CUDAKernelSource.allKernelNames)] {
            let registers = try CubinRegisterCounts.read(try compiler.compile(source, architecture: architecture).cubin)
            for name in names {
                let count = try #require(registers[name], "no register count for \(name)")
                #expect((1...255).contains(count), "\(name): \(count) registers")
                let block = CUDAKernelSource.largestBlock(of: name)
                #expect(CubinRegisterCounts.fits(threads: block, registers: count),
                        "\(name): \(count) registers a thread do not fit blocks of \(block) threads on \(architecture)")
            }
        }
        #expect(CUDAKernelSource.largestBlock(of: "layer_norm_backward_wide") == 1024)
        #expect(!CubinRegisterCounts.fits(threads: 1024, registers: 65) && CubinRegisterCounts.fits(threads: 1024, registers: 64))
        #expect(CubinRegisterCounts.fits(threads: 256, registers: 255))
    }
}

extension Fixtures {
    /// Loads NVRTC from the `nvidia-cuda-nvrtc` wheel (`tools/fetch-test-models.sh`); false when it
    /// was not fetched, which CI does not allow.
    static func loadNVRTC() throws -> Bool {
        guard let folder = downloadedModel("nvrtc") else {
            #expect(ProcessInfo.processInfo.environment["CI"] == nil,
                    "CI needs .models/nvrtc: run tools/fetch-test-models.sh")
            print("NVRTC not fetched (.models/nvrtc): kernel compile tests skipped")
            return false
        }
        try CUDALibraries.loadCompiler(locator: CUDALibraryLocator(environment: ["LISTCONRANKER_CUDA_PATH": folder.path]))
        return true
    }
}
