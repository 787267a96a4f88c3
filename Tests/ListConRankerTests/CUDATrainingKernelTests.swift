import Foundation
import Testing
@testable import ListConRankerCUDA

/// The GPU trainer's kernels (issue 30), on a machine without a GPU: NVRTC compiles every one, and each
/// fits the largest block its launches may ask for.
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
        try CubinRegisterCounts.expectEveryKernelFitsItsLargestBlock(compiled.cubin, kernels: CUDATrainingKernelSource.kernelNames,
                                                                     architecture: architecture)
    }

    /// The arithmetic of ``CubinRegisterCounts/fits(threads:registers:)`` at the limits the kernels meet.
    @Test func registersAreGivenOutAWarpAtATime() {
        #expect(!CubinRegisterCounts.fits(threads: 1024, registers: 65) && CubinRegisterCounts.fits(threads: 1024, registers: 64))
        #expect(CubinRegisterCounts.fits(threads: 256, registers: 255) && !CubinRegisterCounts.fits(threads: 288, registers: 255))
        #expect(CUDAKernelSource.largestBlock(of: "layer_norm_backward_wide") == 1024)
        #expect(CUDAKernelSource.largestBlock(of: "attention_forward_train") == 256)
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
