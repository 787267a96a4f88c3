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

    /// `train --stage 2 --device cuda` (the encoder and the head on the device) runs to its end on
    /// the software device, and `rerank` on the CPU serves what it wrote; its losses are the CPU
    /// run's to 1e-3 (the same data, seed and dropout masks).
    @Test func stageTwoTrainsOnTheSoftwareDevice() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        guard let environment = environment(scratch.url) else { return }
        let lines = try String(contentsOfFile: CLIFixtures.evaluationData, encoding: .utf8).split(separator: "\n").prefix(8)
        let data = scratch.url.appendingPathComponent("data.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: data, atomically: true, encoding: .utf8)
        func train(_ device: String) throws -> (CLIResult, [Double], String) {
            let output = scratch.url.appendingPathComponent("out-\(device)").path
            let log = scratch.url.appendingPathComponent("log-\(device).jsonl").path
            let result = try CLI.run(["train", "--stage", "2", "--device", device, "--model", CLIFixtures.tinyModel,
                                      "--data", data.path, "--output", output, "--epochs", "2", "--batch-size", "4",
                                      "--micro-batch-size", "2", "--list-size", "4", "--max-length", "32",
                                      "--seed", "7", "--log", log],
                                     environment: environment, timeLimit: 300)
            struct Line: Decodable { let event: String; let loss: Double? }
            let losses = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                try? JSONDecoder().decode(Line.self, from: Data($0.utf8))
            }.filter { $0.event == "step" }.compactMap(\.loss)
            return (result, losses, output)
        }
        let (gpu, gpuLosses, output) = try train("cuda")
        #expect(gpu.status == 0, "\(gpu)")
        let (cpu, cpuLosses, _) = try train("cpu")
        #expect(cpu.status == 0, "\(cpu)")
        #expect(gpuLosses.count == cpuLosses.count && !gpuLosses.isEmpty, "GPU \(gpuLosses), CPU \(cpuLosses)")
        let worst = zip(gpuLosses, cpuLosses).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-3, "GPU \(gpuLosses), CPU \(cpuLosses)")
        let served = try CLI.run(["rerank", "--json", "--model", output, "高血压患者应该注意什么？", "多吃蔬菜，少吃盐。", "今天天气很好"])
        #expect(served.status == 0, "\(served)")
        #expect(try scores(served).count == 2)
    }

    /// Stage 2 on a device too small for its activations ends with a clear error that names the
    /// training options that make it fit, and exit status 2, not a crash.
    @Test func stageTwoOnADeviceTooSmallSaysWhatFits() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        guard var environment = environment(scratch.url) else { return }
        environment["LISTCONRANKER_CUDA_EMULATOR_MEMORY"] = "40M"
        let output = scratch.url.appendingPathComponent("out")
        let result = try CLI.run(["train", "--stage", "2", "--device", "cuda", "--model", CLIFixtures.tinyModel,
                                  "--data", CLIFixtures.evaluationData, "--output", output.path, "--epochs", "1",
                                  "--batch-size", "64", "--micro-batch-size", "64", "--list-size", "20", "--max-length", "512"],
                                 environment: environment, timeLimit: 300)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("CUDA_ERROR_OUT_OF_MEMORY") && result.stderr.contains("--micro-batch-size"),
                "\(result)")
        #expect(!result.stderr.contains("Fatal error"), "\(result)")
    }
}
