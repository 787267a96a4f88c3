import ArgumentParser
import Foundation
import ListConRanker
import ListConRankerDistributed
import ListConRankerTraining
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `listconranker train`: stage 1 (the list head on a frozen encoder) or stage 2 (everything,
/// backward through BERT); a thin layer on ``Trainer`` (options in, progress and errors out).
struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a ListConRanker with Circle Loss (stage 1: the list head; stage 2: everything).",
        discussion: """
            Data lines are {"query": …, "positive": […], "negative": […]} (the eval format). Stage 1 \
            freezes the encoder: its features are computed once per text and cached (--feature-cache). \
            Stage 2 trains the encoder too (backward through BERT; start it from a stage-1 output with \
            --model): features change every step, so no cache is used, and each checkpoint carries its \
            own model.safetensors. OUT receives the latest checkpoint in the official layout (serve it \
            with `rerank --model OUT`), epoch-N/ after each epoch, best/ with the best dev MAP (with \
            --eval-data) and training_state.bin for --resume.
            """
    )

    @Option(name: .long, help: "Training stage: 1 (list head, encoder frozen) or 2 (everything, the encoder included).")
    var stage = 1
    @Option(name: .long, help: "Start from this ListConRanker (directory or hub id): its head is trained further. Without --model and --encoder: ByteDance/ListConRanker from the Hugging Face cache.")
    var model: String?
    @Option(name: .long, help: "Start a new ListConRanker from this BERT (directory or hub id) with a fresh head.")
    var encoder: String?
    @Option(name: .long, help: "Hub branch, tag or commit for a hub id.")
    var revision: String?
    @Option(name: .long, help: "Training data (JSON lines).")
    var data: String
    @Option(name: .long, help: "Output directory (new or empty, or a run to --resume).")
    var output: String
    @Option(name: .long, help: "Dev data (JSON lines): MAP and MRR@10 after each epoch; best/ keeps the best MAP.")
    var evalData: String?

    @Option(name: .long, help: "Passes over the training queries.") var epochs = TrainingConfiguration().epochs
    @Option(name: .long, help: "Lists (queries) per optimizer step.") var batchSize = TrainingConfiguration().batchSize
    @Option(name: .long, help: "Lists per forward/backward (gradient accumulation up to --batch-size).")
    var microBatchSize = TrainingConfiguration().microBatchSize
    @Option(name: .long, help: "Passages per sampled list.") var listSize = TrainingConfiguration().listSize
    @Option(name: .long, help: "Most positives per list (default: half the list).") var maxPositives: Int?
    @Option(name: .long, help: "Peak learning rate.") var learningRate = TrainingConfiguration().learningRate
    @Option(name: .long, help: "Fraction of steps warming up.") var warmupRatio = TrainingConfiguration().warmupRatio
    @Option(name: .long, help: "AdamW weight decay.") var weightDecay = TrainingConfiguration().weightDecay
    @Option(name: .long, help: "Clip gradients to this global norm.") var maxGradNorm = TrainingConfiguration().maxGradNorm
    @Option(name: .long, help: "Dropout in the list transformer.") var dropout = TrainingConfiguration().dropout
    @Option(name: .long, help: "Circle Loss scale.") var gamma = TrainingConfiguration().gamma
    @Option(name: .long, help: "Circle Loss margin.") var margin = TrainingConfiguration().margin
    @Option(name: .long, help: "Seed of initialisation, sampling and dropout.") var seed: UInt64 = TrainingConfiguration().seed
    @Option(name: .long, help: ArgumentHelp(
        "fp32 or bf16: on a GPU, of the training products (and in stage 1 of the frozen encoder's features); on the CPU, of stage 1's features.",
        discussion: "On a GPU (--device cuda) --precision bf16 is mixed precision as PyTorch's autocast does it, in "
            + "both stages: bf16 copies of every matrix product's inputs with fp32 accumulation, fp32 master "
            + "weights, gradients, LayerNorm, softmax and AdamW; no loss scaling. --precision fp32 on a GPU is the "
            + "parity mode (no TF32). The CPU trains in fp32: in stage 1 --precision bf16 sets only the features' "
            + "precision. Stage 2 with --precision bf16 trains on a GPU only (--device cuda). On the CPU stage 2 "
            + "trains in fp32 only. " + PrecisionChoice.emulationNote))
    var precision: PrecisionChoice = .fp32
    @Option(name: .long, help: "Where to train: cpu, or cuda / cuda:N for a GPU (stage 1: the list head, and the features it lacks; stage 2: the encoder and the head).")
    var device: Device = .cpu
    @Option(name: .long, help: "Most tokens per text.") var maxLength = TrainingConfiguration().maxLength
    @Option(name: .long, help: "List width of a new head (--encoder).") var headWidth = TrainingConfiguration().headWidth
    @Option(name: .long, help: "Feed-forward width of a new head (--encoder).")
    var headFeedForward = TrainingConfiguration().headFeedForward

    @Option(name: .long, help: "Feature cache folder (default ~/.cache/listconranker/features).") var featureCache: String?
    @Option(name: .long, help: "Write a JSON line per step and per evaluation here.") var log: String?
    @Option(name: .long, help: "Write TensorBoard scalars into this folder.") var tensorboard: String?
    @Option(name: .long, help: "Evaluate every N steps too.") var evalEvery: Int?
    @Option(name: .long, help: "Save the latest checkpoint and state every N steps too.") var saveEvery: Int?
    @Option(name: .long, help: "Stop after this many steps (saving the state; continue with --resume).") var stopAfterStep: Int?
    @Flag(name: .long, help: "Add each step's seconds per phase to the --log step lines (\"phases\": encoder_forward, list_head, encoder_backward, gradient_sum, optimizer); on a GPU each phase waits for the device, which slows the run slightly, the step's seconds per kernel go to \"kernels\", and \"device_memory\" holds the most memory the run has held on the GPU and, in stage 2, the encoder's activations by the count micro-batches are fitted by.")
    var profile = false
    @Flag(name: .long, help: "Continue the run saved in --output.") var resume = false
    @Flag(name: .long, help: "Under MPI, stage 2: sum gradients across ranks after the backward instead of during it (faster where ranks have one core each; BENCHMARKS.md).")
    var reduceAfterBackward = false
    /// Stage 2's memory for time; nil: `--recompute` for hidden size ≥ 1024, `--no-recompute` below.
    @Flag var recomputation: RecomputationFlag?

    func validate() throws {
        guard stage == 1 || stage == 2 else {
            throw ValidationError("--stage must be 1 (list head on a frozen encoder) or 2 (everything), not \(stage)")
        }
        guard model == nil || encoder == nil else { throw ValidationError("give one of --model and --encoder, not both") }
        guard !profile || log != nil else { throw ValidationError("--profile adds to the --log file's step lines: give --log FILE too") }
        guard listSize >= 2 else { throw ValidationError("--list-size must be at least 2 (a positive and a negative), not \(listSize)") }
        guard precision != .auto, precision != .fp16 else {
            throw ValidationError("--precision must be fp32 or bf16 for training features")
        }
        guard stage == 1 || precision.resolved == .fp32 || device.isGPU else {
            throw ValidationError("--stage 2 --precision bf16 trains on a GPU only: bf16 training needs --device cuda "
                + "(on the CPU stage 2 trains in fp32: give --precision fp32)")
        }
        // The CPU's bf16 emulation is moot where the GPU computes (stage 1's features, stage 2's products).
        if !device.isGPU { PrecisionChoice.warnIfEmulated(precision.resolved) }
    }

    func run() async throws {
        try await DistributedJob.run(stopped: "\(output) keeps its last saved step: continue with the same command and --resume") {
            try await train(ranks: $0)
        }
    }

    /// The run as one rank of `ranks` (one process when not launched by MPI): every rank trains its
    /// share of each batch, rank 0 alone writes and prints.
    func train(ranks: Communicator) async throws {
        var configuration = TrainingConfiguration()
        configuration.stage = stage
        configuration.epochs = epochs
        configuration.batchSize = batchSize
        configuration.microBatchSize = microBatchSize
        configuration.listSize = listSize
        configuration.maxPositives = maxPositives
        configuration.learningRate = learningRate
        configuration.warmupRatio = warmupRatio
        configuration.weightDecay = weightDecay
        configuration.maxGradNorm = maxGradNorm
        configuration.dropout = dropout
        configuration.gamma = gamma
        configuration.margin = margin
        configuration.seed = seed
        configuration.precision = precision.resolved
        configuration.maxLength = maxLength
        configuration.headWidth = headWidth
        configuration.headFeedForward = headFeedForward

        let start: TrainingStart
        if let encoder {
            start = .encoder(try await ModelLocation.directory(encoder, revision: revision))
        } else {
            start = .model(try await ModelLocation.directory(model ?? ModelLocation.defaultModel, revision: revision))
        }
        var run = TrainingRun(start: start, data: URL(fileURLWithPath: data), output: URL(fileURLWithPath: output))
        run.evaluationData = evalData.map { URL(fileURLWithPath: $0) }
        run.featureCache = featureCache.map { URL(fileURLWithPath: $0, isDirectory: true) }
        run.log = log.map { URL(fileURLWithPath: $0) }
        run.tensorboard = tensorboard.map { URL(fileURLWithPath: $0, isDirectory: true) }
        run.resume = resume
        run.evaluateEvery = evalEvery
        run.saveEvery = saveEvery
        run.stopAfterStep = stopAfterStep
        run.profilesPhases = profile
        run.recomputation = recomputation?.recomputation
        run.communicator = ranks
        run.overlapsReduction = !reduceAfterBackward
        run.device = device

        do {
            let trainer = try Trainer(configuration: configuration, run: run)
            let display = TrainingProgressLine()
            if ranks.isDistributed && ranks.isRoot {
                display.message("data-parallel over \(ranks.size) ranks (\(ranks.launcher ?? "MPI")): each takes a share of every "
                    + "batch of \(batchSize) lists; rank 0 writes")
            }
            var encoding: ProgressReporter?
            trainer.onEncoding = { done, total in
                if encoding == nil { encoding = ProgressReporter(label: "encode", total: total, unit: .items("texts")) }
                encoding?.update(completed: done)
                if done == total { encoding?.finish() }
            }
            trainer.onStep = { display.step($0) }
            trainer.onEvaluation = { report in
                display.message(String(format: "eval step %d (epoch %.2f): MAP %.2f, MRR@10 %.2f%@", report.step, report.epoch,
                                       report.map, report.mrrAt10, report.isBest ? " (best)" : ""))
            }
            trainer.onMessage = { display.message($0) }
            if !ranks.isRoot {
                // Rank 0 alone prints progress.
                trainer.onEncoding = nil
                trainer.onStep = nil
                trainer.onEvaluation = nil
                trainer.onMessage = nil
            }
            let summary = try trainer.train()
            display.finish()
            guard ranks.isRoot else { return }
            let state = summary.step == summary.totalSteps ? "finished" : "stopped"
            FileHandle.standardError.write(Data("\(state) at step \(summary.step)/\(summary.totalSteps); model in \(output)\n".utf8))
        } catch let error as TrainingError {
            throw InputError(error.description)
        } catch let error as RerankingDatasetError {
            throw InputError(error.description)
        }
    }
}

/// The training progress line on a terminal: step, loss, learning rate, lists/s, ETA — redrawn in
/// place; messages (evaluations, checkpoints) go above it. Off a terminal only messages print.
final class TrainingProgressLine {
    private let terminal = isatty(STDERR_FILENO) == 1
    private var lists = 0
    private var seconds = 0.0
    private var drawn = false

    func step(_ report: TrainingStepReport) {
        lists += report.lists
        seconds += report.seconds
        guard terminal else { return }
        let rate = seconds > 0 ? Double(lists) / seconds : 0
        let perStep = seconds / Double(max(1, lists)) * Double(report.lists)
        let eta = Int(perStep * Double(report.totalSteps - report.step))
        let line = String(format: "step %d/%d  epoch %d  loss %.4f  lr %.2e  %.1f lists/s  ETA %d:%02d", report.step,
                          report.totalSteps, report.epoch, report.loss, report.learningRate, rate, eta / 60, eta % 60)
        FileHandle.standardError.write(Data(("\r" + line + "   ").utf8))
        drawn = true
    }

    func message(_ text: String) {
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
        drawn = false
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    func finish() {
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
        drawn = false
    }
}
