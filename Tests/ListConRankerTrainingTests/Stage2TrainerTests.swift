import Foundation
import ListConRanker
import Testing
@testable import ListConRankerTraining

/// Stage 2 end to end on the tiny model: the encoder trains, the checkpoint (with its own
/// `model.safetensors`) is served by the unchanged inference code with the trainer's scores,
/// resume and recomputation change no weight, and no feature cache is touched.
@Suite struct Stage2TrainerTests {
    static func configuration() -> TrainingConfiguration {
        var c = TrainerTests.configuration()
        c.stage = 2
        c.epochs = 1
        c.maxLength = 32
        return c
    }

    static func run(_ c: TrainingConfiguration, output: URL, cache: URL,
                    configure: (inout TrainingRun) -> Void = { _ in }) throws -> TrainingSummary {
        try TrainerTests.run(c, output: output, cache: cache, configure: configure)
    }

    static let query = "过敏性鼻炎会不会自己好"
    static let passages = ["过敏性鼻炎患者应该按时服药", "建议少吃油腻食物，同时多喝温水", "腰痛常见的表现是皮肤瘙痒"]

    @Test func encoderTrainsAndTheCheckpointServesTheTrainersScores() throws {
        let root = try TrainerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let output = root.appendingPathComponent("out"), cache = root.appendingPathComponent("cache")
        let summary = try Self.run(Self.configuration(), output: output, cache: cache)
        let trained = try #require(summary.encoder)
        #expect(summary.step == summary.totalSteps && summary.losses.allSatisfy(\.isFinite))
        // Stage 2 neither reads nor writes stage-1 features.
        #expect(!FileManager.default.fileExists(atPath: cache.path))

        let start = try EncoderParameters.load(modelDirectory: TrainingFixtures.tinyModel).parameters
        #expect(trained.values != start.values)
        // The file holds exactly the trained values, under the input's names.
        let written = try EncoderParameters.load(modelDirectory: output).parameters
        #expect(written.values == trained.values && written.keyPrefix == start.keyPrefix)
        #expect(try ListHeadParameters.load(modelDirectory: output) == summary.parameters)
        for folder in ["epoch-1"] {
            #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent("\(folder)/model.safetensors").path))
        }

        // The trainer's own forward (dropout off) against the unchanged inference code on the files.
        let tokenizer = try BertTokenizer(directory: output)
        let ids = ([Self.query] + Self.passages).map { tokenizer.encode($0, maxLength: 32).ids }
        let network = EncoderNetwork(layout: trained.layout)
        let pooled = try network.forward(ids, parameters: trained).pooled
        let batch = try ListBatch(pooled: pooled, hidden: trained.shape.hidden, listLengths: [ids.count])
        let ours = try ListHeadNetwork(layout: summary.parameters.layout).forward(batch, parameters: summary.parameters).scores
        let served = try Reranker(modelDirectory: output, options: RerankerOptions(maxLength: 32))
            .scores(query: Self.query, passages: Self.passages)
        let error = maxAbsoluteError(served, ours)
        print("stage 2: max |served − trainer| \(error)")
        #expect(error <= 1e-5)

        if CheckpointWriterTests.torchAvailable {
            // transformers' BertModel and the reference modules load the files strictly and
            // reproduce the served scores.
            let lists = root.appendingPathComponent("lists.json")
            try JSONSerialization.data(withJSONObject: [[Self.query] + Self.passages]).write(to: lists)
            let script = TrainingFixtures.repositoryRoot.appendingPathComponent("tools/reference/check_trained_model.py").path
            let check = try CheckpointWriterTests.runPython([script, output.path, lists.path])
            try #require(check.status == 0, "\(check.output)")
            struct Scores: Decodable { let scores: [[Float]] }
            let line = try #require(check.output.split(separator: "\n").last(where: { $0.hasPrefix("{") }))
            let torch = try JSONDecoder().decode(Scores.self, from: Data(line.utf8)).scores[0]
            let torchError = maxAbsoluteError(served, torch)
            print("stage 2: max |served − PyTorch| \(torchError)")
            #expect(torchError <= 1e-5)
        }
    }

    @Test func resumeReachesTheSameWeights() throws {
        let root = try TrainerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let cache = root.appendingPathComponent("cache")
        let c = Self.configuration()   // dropout on in both the encoder and the head
        let whole = try Self.run(c, output: root.appendingPathComponent("whole"), cache: cache)
        let cut = root.appendingPathComponent("cut")
        let first = try Self.run(c, output: cut, cache: cache) { $0.stopAfterStep = 2 }
        #expect(first.step == 2 && whole.totalSteps > 2)
        let resumed = try Self.run(c, output: cut, cache: cache) { $0.resume = true }
        #expect(resumed.step == whole.totalSteps)
        #expect(resumed.parameters.values == whole.parameters.values)
        #expect(resumed.encoder?.values == whole.encoder?.values)
        #expect(resumed.losses == Array(whole.losses.dropFirst(2)))
    }

    @Test func recomputationChangesNoWeight() throws {
        let root = try TrainerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let cache = root.appendingPathComponent("cache")
        var c = Self.configuration()
        c.batchSize = 8
        let kept = try Self.run(c, output: root.appendingPathComponent("kept"), cache: cache) {
            $0.recomputation = EncoderRecomputation.none
            $0.stopAfterStep = 2
        }
        for recomputation in [EncoderRecomputation.attention, .layers] {
            let recomputed = try Self.run(c, output: root.appendingPathComponent(recomputation.rawValue), cache: cache) {
                $0.recomputation = recomputation
                $0.stopAfterStep = 2
            }
            #expect(kept.encoder?.values == recomputed.encoder?.values, "\(recomputation)")
            #expect(kept.parameters.values == recomputed.parameters.values, "\(recomputation)")
            #expect(kept.losses == recomputed.losses, "\(recomputation)")
        }
    }

    /// Stage 2 in bf16 is a GPU's mixed precision: the settings are valid, a CPU run is refused with
    /// a message that says it needs a CUDA device, a CUDA run is accepted.
    @Test func stageTwoInBF16NeedsAGPU() throws {
        var c = Self.configuration()
        c.precision = .bf16
        try c.validate()
        var run = TrainingRun(start: .model(TrainingFixtures.tinyModel), data: URL(fileURLWithPath: "/nonexistent"),
                              output: URL(fileURLWithPath: "/nonexistent"))
        #expect { try Trainer(configuration: c, run: run) } throws: { error in
            "\(error)".contains("bf16 training needs a CUDA device (--device cuda)")
        }
        run.device = .cuda(index: 0)
        _ = try Trainer(configuration: c, run: run)
    }
}
