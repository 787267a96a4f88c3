import Foundation
import Testing

/// `--device cuda` in a process of its own that loads nothing but the software CUDA device of
/// `tools/cuda-emulator` (its driver, cuBLASLt and NVRTC, which compiles the kernels for the CPU):
/// the path a user takes, end to end, on a machine without a GPU.
@Suite struct EmulatedCUDACLITests {
    static let emulator = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/cuda-emulator", isDirectory: true)

    /// The environment that points the CLI at the emulator, or nil (a skip, a failure under CI).
    func environment(_ scratch: URL) -> [String: String]? {
        guard FileManager.default.fileExists(atPath: Self.emulator.appendingPathComponent("libcuda.so.1").path) else {
            #expect(ProcessInfo.processInfo.environment["CI"] == nil,
                    "CI needs the software CUDA device: tools/fetch-test-models.sh builds it")
            print("software CUDA device not built (.build/cuda-emulator): skipped")
            return nil
        }
        return ["LISTCONRANKER_CUDA_PATH": Self.emulator.path,
                "LISTCONRANKER_CUDA_CACHE": scratch.appendingPathComponent("cubins").path]
    }

    func scores(_ result: CLIResult) throws -> [Float] {
        struct Line: Decodable { struct Result: Decodable { let score: Float }; let results: [Result] }
        return try JSONDecoder().decode(Line.self, from: Data(result.stdout.utf8)).results.map(\.score)
    }

    @Test func rerankOnTheSoftwareDeviceMatchesTheCPU() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        guard let environment = environment(scratch.url) else { return }
        let texts = ["高血压患者应该注意什么？", "多吃蔬菜，少吃盐。", "今天天气很好", "明天会下雨吗", "多吃蔬菜，少吃盐。"]
        let cpu = try CLI.run(["rerank", "--json", "--model", CLIFixtures.tinyModel] + texts)
        let gpu = try CLI.run(["rerank", "--json", "--device", "cuda", "--precision", "fp32", "--model", CLIFixtures.tinyModel]
                              + texts, environment: environment, timeLimit: 180)
        #expect(cpu.status == 0, "\(cpu)")
        #expect(gpu.status == 0, "\(gpu)")
        guard cpu.status == 0, gpu.status == 0 else { return }
        let expected = try scores(cpu), actual = try scores(gpu)
        #expect(actual.count == 4)
        let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-4, "CPU \(expected), software CUDA \(actual)")
    }

    @Test func aDeviceTooSmallForTheModelExitsWithOneLine() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        guard var environment = environment(scratch.url) else { return }
        environment["LISTCONRANKER_CUDA_EMULATOR_MEMORY"] = "1M"   // less than cuBLASLt's workspace
        let result = try CLI.run(["rerank", "--device", "cuda", "--model", CLIFixtures.tinyModel, "q", "a"],
                                 environment: environment, timeLimit: 180)
        #expect(result.status == 2, "\(result)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && result.stderr.contains("CUDA_ERROR_OUT_OF_MEMORY"), "\(result)")
    }

    /// A kernel that faults on the GPU (made to, here) ends the command with a clear message and
    /// exit status 2, not a hang or a crash.
    @Test func aFailingKernelIsAClearErrorNotAHang() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        guard var environment = environment(scratch.url) else { return }
        environment["LISTCONRANKER_CUDA_EMULATOR_FAIL_KERNEL"] = "attention_f32"
        let result = try CLI.run(["rerank", "--device", "cuda", "--precision", "fp32", "--model", CLIFixtures.tinyModel,
                                  "q", "a", "b"], environment: environment, timeLimit: 180)
        #expect(!result.timedOut)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("CUDA_ERROR_LAUNCH_FAILED"), "\(result)")
        #expect(!result.stderr.contains("Fatal error"), "\(result)")
        #expect(!result.stderr.contains("no room"), "a failed kernel is not a full GPU: \(result)")
    }
}
