import Foundation
import ListConRanker
import Testing

/// The GPU backend's parts that run without a GPU: parsing devices, finding and loading the CUDA
/// libraries (and failing clearly without them), and compiling every kernel with NVRTC.
@Suite struct CUDABackendTests {
    @Test func devicesParseAsUsersWriteThem() {
        #expect(Device("cpu") == .cpu)
        #expect(Device("cuda") == .cuda(index: 0))
        #expect(Device("cuda:3") == .cuda(index: 3))
        #expect(Device("CUDA:1") == .cuda(index: 1))
        for bad in ["gpu", "cuda:", "cuda:-1", "cuda:+1", "cuda:x", "cpu:0", ""] {
            #expect(Device(bad) == nil, "\(bad) should not parse")
        }
        #expect(Device.cuda(index: 2).description == "cuda:2")
    }

    @Test func librariesAreSearchedInTheDocumentedOrder() throws {
        let scratch = try ScratchDirectory()
        let root = scratch.url.path
        func folder(_ relative: String) throws -> String {
            let path = root + "/" + relative
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return path
        }
        let explicit = try folder("explicit/lib64")
        let home = try folder("cuda-home/lib64")
        let venvLib = try folder("venv/lib/python3.12/site-packages/nvidia/cu13/lib")
        let venvBin = try folder("venv/bin")
        FileManager.default.createFile(atPath: venvBin + "/python3", contents: Data("#!/bin/sh\n".utf8),
                                       attributes: [.posixPermissions: 0o755])
        let locator = CUDALibraryLocator(environment: [
            "LISTCONRANKER_CUDA_PATH": root + "/explicit:" + root + "/missing",
            "CUDA_HOME": root + "/cuda-home",
            "PATH": venvBin,
        ], home: root + "/no-home")
        let directories = locator.searchDirectories()
        let order = [root + "/explicit", explicit, home, "", venvLib].map { directories.firstIndex(of: $0) }
        #expect(order.allSatisfy { $0 != nil }, "\(directories)")
        #expect(order.compactMap { $0 } == order.compactMap { $0 }.sorted(), "\(directories)")
        #expect(!directories.contains { $0.contains("/missing") }, "directories that do not exist are left out")
    }

    @Test func aMissingDriverIsOneClearError() throws {
        let scratch = try ScratchDirectory()
        let empty = scratch.url.path
        let locator = CUDALibraryLocator(environment: ["LISTCONRANKER_CUDA_PATH": empty], home: empty)
        do {
            try CUDALibraries.loadAll(locator: locator)
            print("this machine has the CUDA libraries: the missing-library message is not checked here")
        } catch let error as CUDAError {
            let message = error.description
            #expect(message.contains("libcuda.so.1") || message.contains("libcublasLt") || message.contains("libnvrtc"))
            #expect(message.contains(empty), "the message names where it looked: \(message)")
            #expect(message.contains("LISTCONRANKER_CUDA_PATH"), "the message says how to point at the libraries")
            #expect(!message.contains("\n"))
        }
    }

    @Test func aModelOnAMissingGPUFailsWithoutCrashing() throws {
        guard (try? CUDALibraries.loadAll()) == nil else {
            print("this machine has the CUDA libraries: not checked here")
            return
        }
        #expect(throws: CUDAError.self) {
            _ = try Reranker(modelDirectory: Fixtures.url("tiny-model"), options: RerankerOptions(device: .cuda(index: 0)))
        }
    }

    @Test func fp16IsRefusedOnTheCPU() {
        #expect(throws: (any Error).self) {
            _ = try Reranker(modelDirectory: Fixtures.url("tiny-model"), options: RerankerOptions(precision: .fp16))
        }
    }

    @Test(arguments: ["sm_80", "sm_90"])
    func everyKernelCompilesWithNVRTC(_ architecture: String) throws {
        guard try Fixtures.loadNVRTC() else { return }
        let cache = try ScratchDirectory()
        let compiler = CUDAKernelCompiler(cacheDirectory: cache.url)
        let compiled = try compiler.compile(architecture: architecture)
        #expect(!compiled.fromCache)
        #expect(compiled.log.isEmpty, "NVRTC warned: \(compiled.log)")
        let cubin = compiled.cubin
        #expect(Array(cubin.prefix(4)) == [0x7f, 0x45, 0x4c, 0x46], "a cubin is an ELF file")
        for name in CUDAKernelSource.allKernelNames {
            #expect(cubin.firstRange(of: Array(name.utf8) + [0]) != nil, "kernel \(name) is missing from the cubin")
        }
        try CubinRegisterCounts.expectEveryKernelFitsItsLargestBlock(cubin, kernels: CUDAKernelSource.allKernelNames,
                                                                     architecture: architecture)
        let again = try compiler.compile(architecture: architecture)
        #expect(again.fromCache && again.cubin == cubin, "the second compile reads the disk cache")
    }

    @Test func aKernelThatDoesNotCompileNamesTheError() throws {
        guard try Fixtures.loadNVRTC() else { return }
        let compiler = CUDAKernelCompiler(cacheDirectory: nil)
        do {
            _ = try compiler.compile("extern \"C\" __global__ void broken() { undefined_thing(); }", architecture: "sm_90")
            Issue.record("a broken kernel compiled")
        } catch let error as CUDAError {
            #expect(error.description.contains("undefined_thing"), "\(error)")
        }
    }
}
