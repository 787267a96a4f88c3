import Foundation
import Testing

/// `train --device cuda` on the software CUDA device (`EmulatedCUDACLITests` explains it), in a
/// process of its own: stage 2 (the encoder and the head on the device) end to end from the
/// command line, and a device too small for it.
@Suite struct EmulatedCUDATrainCLITests {
    /// The emulator's environment and the rerank output reader.
    let cuda = EmulatedCUDACLITests()

    /// `train --stage 2` of the tiny model on the first 8 queries of the fixture data, on `device`
    /// in `precision` (2 steps an epoch): the result, the logged losses, and the output folder.
    func trainStageTwo(_ device: String, _ precision: String, epochs: Int, scratch: URL,
                       environment: [String: String]) throws -> (CLIResult, [Double], String) {
        let data = scratch.appendingPathComponent("data.jsonl")
        if !FileManager.default.fileExists(atPath: data.path) {
            let lines = try String(contentsOfFile: CLIFixtures.evaluationData, encoding: .utf8).split(separator: "\n").prefix(8)
            try (lines.joined(separator: "\n") + "\n").write(to: data, atomically: true, encoding: .utf8)
        }
        let output = scratch.appendingPathComponent("out-\(device)-\(precision)").path
        let log = scratch.appendingPathComponent("log-\(device)-\(precision).jsonl").path
        let result = try CLI.run(["train", "--stage", "2", "--device", device, "--precision", precision,
                                  "--model", CLIFixtures.tinyModel, "--data", data.path, "--output", output,
                                  "--epochs", "\(epochs)", "--batch-size", "4", "--micro-batch-size", "2", "--list-size", "4",
                                  "--max-length", "32", "--seed", "7", "--log", log],
                                 environment: environment, timeLimit: 300)
        struct Line: Decodable { let event: String; let loss: Double? }
        let losses = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            try? JSONDecoder().decode(Line.self, from: Data($0.utf8))
        }.filter { $0.event == "step" }.compactMap(\.loss)
        return (result, losses, output)
    }

    /// `rerank` on the CPU serves the checkpoint in `output`.
    func expectServed(_ output: String) throws {
        let served = try CLI.run(["rerank", "--json", "--model", output, "高血压患者应该注意什么？", "多吃蔬菜，少吃盐。", "今天天气很好"])
        #expect(served.status == 0, "\(served)")
        #expect(try cuda.scores(served).count == 2)
    }

    /// `train --stage 2 --device cuda` (the encoder and the head on the device) runs to its end on
    /// the software device, and `rerank` on the CPU serves what it wrote; its losses are the CPU
    /// run's to 1e-3 (the same data, seed and dropout masks).
    @Test func stageTwoTrainsOnTheSoftwareDevice() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        guard let environment = cuda.environment(scratch.url) else { return }
        let (gpu, gpuLosses, output) = try trainStageTwo("cuda", "fp32", epochs: 2, scratch: scratch.url, environment: environment)
        #expect(gpu.status == 0, "\(gpu)")
        let (cpu, cpuLosses, _) = try trainStageTwo("cpu", "fp32", epochs: 2, scratch: scratch.url, environment: environment)
        #expect(cpu.status == 0, "\(cpu)")
        #expect(gpuLosses.count == cpuLosses.count && !gpuLosses.isEmpty, "GPU \(gpuLosses), CPU \(cpuLosses)")
        let worst = zip(gpuLosses, cpuLosses).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-3, "GPU \(gpuLosses), CPU \(cpuLosses)")
        try expectServed(output)
    }

    /// `train --stage 2 --device cuda --precision bf16` (bf16 products, fp32 master weights) runs on
    /// the software device; its losses track the CPU's fp32 run within 2e-2, relative (the bf16
    /// budget of `CUDAEncoderTrainingBF16Tests`) but not to fp32's 1e-4; `rerank` serves what it wrote; and
    /// `train --help` says what bf16 means on each device.
    @Test func stageTwoTrainsInBF16OnTheSoftwareDevice() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        guard let environment = cuda.environment(scratch.url) else { return }
        let (gpu, gpuLosses, output) = try trainStageTwo("cuda", "bf16", epochs: 1, scratch: scratch.url, environment: environment)
        #expect(gpu.status == 0, "\(gpu)")
        let (cpu, cpuLosses, _) = try trainStageTwo("cpu", "fp32", epochs: 1, scratch: scratch.url, environment: environment)
        #expect(cpu.status == 0, "\(cpu)")
        #expect(gpuLosses.count == cpuLosses.count && !gpuLosses.isEmpty, "GPU \(gpuLosses), CPU \(cpuLosses)")
        let worst = zip(gpuLosses, cpuLosses).map { abs($0 - $1) / max(abs($1), 1e-3) }.max() ?? .infinity
        #expect(worst <= 2e-2, "GPU bf16 \(gpuLosses), CPU fp32 \(cpuLosses)")
        #expect(worst > 1e-4, "bf16 products differ from fp32 ones: GPU \(gpuLosses), CPU \(cpuLosses)")
        print("train --stage 2 --precision bf16 on the software device: losses within \(worst) of the CPU's fp32, relative")
        try expectServed(output)

        let help = try CLI.run(["train", "--help"])
        let text = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(text.contains("Stage 2 with --precision bf16 trains on a GPU only (--device cuda)"), "\(help)")
        #expect(text.contains("On the CPU stage 2 trains in fp32 only"), "\(help)")
    }

    /// `--profile` on the device: each phase waits for the device, every phase is charged, and the
    /// step lines say which kernels the time went to.
    @Test func profileOnTheDeviceChargesEachPhase() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        guard let environment = cuda.environment(scratch.url) else { return }
        let log = scratch.url.appendingPathComponent("log.jsonl").path
        let result = try CLI.run(["train", "--stage", "2", "--device", "cuda", "--model", CLIFixtures.tinyModel,
                                  "--data", CLIFixtures.evaluationData, "--output", scratch.url.appendingPathComponent("out").path,
                                  "--epochs", "1", "--batch-size", "4", "--micro-batch-size", "2", "--list-size", "4",
                                  "--max-length", "32", "--stop-after-step", "2", "--log", log, "--profile"],
                                 environment: environment, timeLimit: 300)
        try #require(result.status == 0, "\(result)")
        try TrainCLITests.expectStageTwoPhases(log, onDevice: true)
    }

    /// A run that chose no recomputation mode recomputes more for micro-batches its GPU has no room
    /// for, and says so: a list of 21 texts of 200 tokens peaks at ~17 MiB of activations without
    /// recomputation (EncoderActivationMemory, 6.5 MiB of it the two layers' attention dropout masks;
    /// ~10.7 MiB when each layer is re-run) on a 58 MiB device (32 MiB of it cuBLASLt's workspace),
    /// where `--no-recompute` asked for runs out of memory (it does up to 62 MiB, and fits from 64 MiB;
    /// the run that chose no mode fits from 54 MiB, and runs out at 52 MiB).
    @Test func aRunThatChoseNoModeRecomputesToFit() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        guard var environment = cuda.environment(scratch.url) else { return }
        environment["LISTCONRANKER_CUDA_EMULATOR_MEMORY"] = "58M"
        func text(_ k: Int) -> String {
            String((0..<200).map { i in Character(UnicodeScalar(0x4E00 + UInt32((k * 7_919 + i * 104_729) % 2_000))!) })
        }
        let sample = ["query": text(0), "positive": [text(1)], "negative": (2..<21).map(text)] as [String: Any]
        let data = scratch.url.appendingPathComponent("long.jsonl")
        try JSONSerialization.data(withJSONObject: sample).write(to: data)
        func train(_ extra: [String]) throws -> CLIResult {
            try CLI.run(["train", "--stage", "2", "--device", "cuda", "--model", CLIFixtures.tinyModel, "--data", data.path,
                         "--output", scratch.url.appendingPathComponent("out\(extra.count)").path, "--epochs", "1",
                         "--batch-size", "1", "--micro-batch-size", "1", "--list-size", "20", "--max-length", "202"] + extra,
                        environment: environment, timeLimit: 300)
        }
        let asked = try train(["--no-recompute"])
        #expect(asked.status == 2 && asked.stderr.contains("CUDA_ERROR_OUT_OF_MEMORY"), "\(asked)")
        let fitted = try train([])
        #expect(fitted.status == 0, "\(fitted)")
        #expect(fitted.stderr.contains("fits the GPU's free memory when each encoder layer"),
                "\(fitted.stderr.replacingOccurrences(of: "\n", with: " | "))")
    }

    /// Stage 2 on a device too small for its activations ends with a clear error that names the
    /// training options that make it fit, and exit status 2, not a crash.
    @Test func stageTwoOnADeviceTooSmallSaysWhatFits() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        guard var environment = cuda.environment(scratch.url) else { return }
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
