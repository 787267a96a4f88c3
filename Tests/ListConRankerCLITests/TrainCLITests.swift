import Foundation
import Testing

/// `train --stage 1` end to end through the command line: a short run writes a checkpoint that
/// `rerank` serves and a JSON-lines log; bad input is a clear error that leaves files alone.
@Suite struct TrainCLITests {
    struct LogLine: Decodable { let event: String; let step: Int; let loss: Double?; let map: Double? }

    /// A few steps on the tiny model: small enough for CI.
    func trainArguments(data: String, output: String, cache: String) -> [String] {
        ["train", "--stage", "1", "--model", CLIFixtures.tinyModel, "--data", data, "--output", output,
         "--feature-cache", cache, "--epochs", "1", "--batch-size", "8", "--micro-batch-size", "4",
         "--list-size", "4", "--seed", "7"]
    }

    @Test func trainWritesACheckpointThatRerankServesAndALog() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.url.appendingPathComponent("run").path
        let log = directory.url.appendingPathComponent("log.jsonl").path
        let result = try CLI.run(trainArguments(data: CLIFixtures.evaluationData, output: output,
                                                cache: directory.url.appendingPathComponent("cache").path)
                                 + ["--eval-data", CLIFixtures.evaluationData, "--log", log])
        try #require(result.status == 0, "\(result)")

        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(LogLine.self, from: Data($0.utf8)) }
        let steps = lines.filter { $0.event == "step" }
        #expect(!steps.isEmpty && steps.allSatisfy { ($0.loss ?? .nan).isFinite }, "\(lines)")
        // The untrained head (step 0) and the end of the epoch are evaluated.
        let evaluations = lines.filter { $0.event == "eval" }
        #expect(evaluations.first?.step == 0 && evaluations.count >= 2 && evaluations.allSatisfy { $0.map != nil })

        for checkpoint in [output, output + "/best"] {
            for file in ["config.json", "linear_in_embedding.pt", "list_transformer.pt"] {
                #expect(FileManager.default.fileExists(atPath: checkpoint + "/" + file), "\(checkpoint)/\(file)")
            }
        }
        let ranked = try CLI.run(["rerank", "--model", output, "--json", "多吃蔬菜", "今天天气很好", "蔬菜很健康"])
        try #require(ranked.status == 0, "\(ranked)")
        #expect(ranked.stdout.contains("\"score\""))
    }

    @Test func badTrainingInputIsAClearErrorAndTouchesNothing() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let cache = directory.url.appendingPathComponent("cache").path

        let empty = try directory.file("empty.jsonl", "\n")
        let emptyRun = try CLI.run(trainArguments(data: empty.path, output: directory.url.appendingPathComponent("a").path,
                                                  cache: cache))
        #expect(emptyRun.status == CLI.failure && emptyRun.stderr.contains("Error: "), "\(emptyRun)")
        #expect(emptyRun.stderr.contains(empty.path), "\(emptyRun)")
        #expect(!FileManager.default.fileExists(atPath: directory.url.appendingPathComponent("a").path))

        let noQuery = try directory.file("no-query.jsonl", #"{"positive": ["a"], "negative": ["b"]}"# + "\n")
        let noQueryRun = try CLI.run(trainArguments(data: noQuery.path, output: directory.url.appendingPathComponent("b").path,
                                                    cache: cache))
        #expect(noQueryRun.status == CLI.failure && noQueryRun.stderr.contains("\(noQuery.path):1"), "\(noQueryRun)")

        let tooShort = try CLI.run(trainArguments(data: CLIFixtures.evaluationData,
                                                  output: directory.url.appendingPathComponent("c").path, cache: cache)
                                   + ["--list-size", "1"])
        #expect(tooShort.status != 0 && tooShort.stderr.contains("list"), "\(tooShort)")

        // An output directory that holds another model is never overwritten.
        let occupied = directory.url.appendingPathComponent("occupied")
        try FileManager.default.createDirectory(at: occupied, withIntermediateDirectories: true)
        let config = occupied.appendingPathComponent("config.json")
        try Data("{\"model_type\": \"bert\"}".utf8).write(to: config)
        let occupiedRun = try CLI.run(trainArguments(data: CLIFixtures.evaluationData, output: occupied.path, cache: cache))
        #expect(occupiedRun.status != 0 && occupiedRun.stderr.contains(occupied.path), "\(occupiedRun)")
        #expect(try String(contentsOf: config, encoding: .utf8) == "{\"model_type\": \"bert\"}")
        #expect(try FileManager.default.contentsOfDirectory(atPath: occupied.path) == ["config.json"])
    }

    /// Stage 2 through the command line: the checkpoint carries a trained model.safetensors that
    /// rerank serves; bf16 on the CPU (bf16 training needs a GPU), two recomputation modes at once and
    /// an unknown stage are clear usage errors.
    @Test func stageTwoWritesATrainedEncoderThatRerankServes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.url.appendingPathComponent("run").path
        var arguments = trainArguments(data: CLIFixtures.evaluationData, output: output,
                                       cache: directory.url.appendingPathComponent("cache").path)
        arguments[arguments.firstIndex(of: "1")!] = "2"
        let result = try CLI.run(arguments + ["--max-length", "32", "--no-recompute"])
        try #require(result.status == 0, "\(result)")
        #expect(result.stderr.contains("no feature cache"), "\(result)")
        #expect(result.stderr.contains("every encoder activation is kept"), "\(result)")
        let weights = try Data(contentsOf: URL(fileURLWithPath: output + "/model.safetensors"))
        let original = try Data(contentsOf: URL(fileURLWithPath: CLIFixtures.tinyModel + "/model.safetensors"))
        #expect(weights != original)
        let ranked = try CLI.run(["rerank", "--model", output, "--json", "多吃蔬菜", "今天天气很好", "蔬菜很健康"])
        #expect(ranked.status == 0, "\(ranked)")

        let twoModes = try CLI.run(arguments + ["--recompute", "--no-recompute"])
        #expect(twoModes.status == CLI.usageError && twoModes.stderr.contains("--recompute"), "\(twoModes)")
        let bf16 = try CLI.run(arguments + ["--precision", "bf16"])
        #expect(bf16.status == CLI.usageError && bf16.stderr.contains("bf16 training needs --device cuda"), "\(bf16)")
        arguments[arguments.firstIndex(of: "2")!] = "3"
        let three = try CLI.run(arguments)
        #expect(three.status == CLI.usageError && three.stderr.contains("--stage"), "\(three)")
    }

    /// `--profile`'s step lines: each phase's seconds, each step's from `--log` (phases keyed by name),
    /// and on a GPU its kernels, their launches and the device's memory.
    static func profiledSteps(_ log: String) throws
        -> [(seconds: Double, phases: [String: Double], kernels: [String: Double]?, launches: [String: Int]?,
             memory: [String: Int]?)] {
        struct Line: Decodable {
            let event: String
            let seconds: Double?
            let phases: [String: Double]?
            let kernels: [String: Double]?
            let kernel_launches: [String: Int]?
            let device_memory: [String: Int]?
        }
        return try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
            .filter { $0.event == "step" }
            .map { ($0.seconds ?? -1, $0.phases ?? [:], $0.kernels, $0.kernel_launches, $0.device_memory) }
    }

    /// Stage 2's phases, every one of them in every step line, none negative, and together no
    /// more than the step's time. On a GPU the step's kernels too (products, attention, LayerNorm,
    /// AdamW among them), their seconds no more than the step's, how many times each ran (AdamW
    /// twice, once for the head's part and once for the encoder's), and the memory the device held at
    /// its peak, at least the encoder's activations by count; on the CPU none of these.
    static func expectStageTwoPhases(_ log: String, onDevice: Bool = false) throws {
        let steps = try profiledSteps(log)
        #expect(!steps.isEmpty)
        for step in steps {
            #expect(Set(step.phases.keys) == ["encoder_forward", "list_head", "encoder_backward", "gradient_sum", "optimizer"],
                    "\(step.phases)")
            #expect(step.phases.values.allSatisfy { $0 >= 0 } && step.phases.values.reduce(0, +) <= step.seconds + 1e-6,
                    "\(step)")
            #expect(step.phases["encoder_forward", default: 0] > 0 && step.phases["encoder_backward", default: 0] > 0)
            guard onDevice else {
                #expect(step.kernels == nil && step.launches == nil && step.memory == nil)
                continue
            }
            let launches = try #require(step.launches)
            #expect(Set(launches.keys) == Set(step.kernels?.keys ?? [:].keys) && launches.values.allSatisfy { $0 >= 1 })
            #expect(launches["adamw_update"] == 2, "\(launches)")
            let kernels = try #require(step.kernels)
            #expect(Set(kernels.keys).isSuperset(of: ["cublaslt_linear_f32", "cublaslt_gemm_f32", "attention_forward_train",
                                                      "attention_backward_queries", "attention_backward_keys",
                                                      "layer_norm_forward_train", "adamw_update", "memset",
                                                      "copy_to_device"]),
                    "\(kernels.keys.sorted())")
            #expect(kernels.values.allSatisfy { $0 >= 0 } && kernels.values.reduce(0, +) <= step.seconds + 1e-3, "\(step)")
            #expect(kernels["cublaslt_gemm_f32", default: 0] > 0)
            let memory = try #require(step.memory)
            let held = try #require(memory["held_peak_bytes"]), counted = try #require(memory["encoder_activation_count_bytes"])
            #expect(counted > 0 && held >= counted, "\(memory)")
        }
    }

    /// `train --profile` adds each step's seconds per phase to the log; without `--log` it is a
    /// usage error that says so.
    @Test func profileWritesEachPhasesSeconds() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = directory.url.appendingPathComponent("log.jsonl").path
        var arguments = trainArguments(data: CLIFixtures.evaluationData, output: directory.url.appendingPathComponent("run").path,
                                       cache: directory.url.appendingPathComponent("cache").path)
        arguments[arguments.firstIndex(of: "1")!] = "2"
        arguments += ["--max-length", "32", "--stop-after-step", "2", "--profile"]
        let result = try CLI.run(arguments + ["--log", log])
        try #require(result.status == 0, "\(result)")
        try Self.expectStageTwoPhases(log)
        let withoutLog = try CLI.run(arguments)
        #expect(withoutLog.status == CLI.usageError && withoutLog.stderr.contains("--log"), "\(withoutLog)")
    }
}
