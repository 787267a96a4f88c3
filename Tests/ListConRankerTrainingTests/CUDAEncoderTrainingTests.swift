import Foundation
import CUDAEmulation
import ListConRanker
import Testing
@testable import ListConRankerTraining

/// Stage 2 on the GPU (issue 30), on the software CUDA device: the encoder's and the head's
/// forward and backward through `CUDATrainingBackend` (the same generic passes the CPU runs)
/// against `CPUTrainingBackend`'s, which are checked against PyTorch autograd; 20 steps of
/// `train --stage 2 --device cuda` against the CPU's; the checkpoint it writes is served.
@Suite(.serialized) struct CUDAEncoderTrainingTests {
    /// Lists of random token ids (3 to 19 tokens a text, [CLS] … [SEP] not needed by the math)
    /// and a linear loss's logit gradients.
    static func micro(seed: UInt64, vocabulary: Int, lists: [Int]) -> ([[Int32]], [Float]) {
        var generator = SeededGenerator(seed: seed)
        let texts = (0..<lists.reduce(0, +)).map { _ in
            (0..<3 + Int(generator.next() % 17)).map { _ in Int32(generator.next() % UInt64(vocabulary)) }
        }
        let passages = lists.reduce(0) { $0 + $1 - 1 }
        return (texts, (0..<passages).map { _ in generator.normal() })
    }

    /// One micro-batch through ``Stage2DeviceStep`` on `backend` (encoder and head masks of
    /// `seeds`, the loss's logit gradients fixed): the logits and both networks' gradients.
    static func step<Backend: TrainingBackend>(
        _ backend: Backend, encoder: EncoderNetwork, encoderParameters: EncoderParameters, head: ListHeadNetwork,
        headParameters: ListHeadParameters, recomputation: EncoderRecomputation, texts: [[Int32]], lists: [Int],
        logitGradients: [Float], seeds: (encoder: UInt64, head: UInt64)
    ) throws -> ([Float], ListHeadGradients, EncoderGradients) {
        let step = Stage2DeviceStep(encoder: encoder, head: head, recomputation: recomputation, backend: backend)
        let state = try DeviceTrainingState(
            backend: backend, head: headParameters, headOptimizer: try AdamW(layout: headParameters.layout),
            encoder: encoderParameters,
            encoderOptimizer: try AdamW(entries: encoderParameters.layout.entries, count: encoderParameters.layout.count),
            microBatches: .inPlace)
        let logits = try step.run(texts: texts, listLengths: lists, encoderSeed: seeds.encoder, headSeed: seeds.head,
                                  state: state, loss: .given(try backend.upload(logitGradients)))
        var headGradients = ListHeadGradients(layout: headParameters.layout)
        var encoderGradients = EncoderGradients(layout: encoderParameters.layout)
        (headGradients.values, encoderGradients.values) = try state.takeGradients()
        return (try backend.download(logits.pointer, count: logits.count), headGradients, encoderGradients)
    }

    /// ``step(_:encoder:encoderParameters:head:headParameters:recomputation:texts:lists:logitGradients:seeds:)``
    /// on the CPU backend and on the software device.
    static func stepOnBothDevices(
        encoder: EncoderNetwork, encoderParameters: EncoderParameters, head: ListHeadNetwork,
        headParameters: ListHeadParameters, recomputation: EncoderRecomputation, texts: [[Int32]], lists: [Int],
        logitGradients: [Float], seeds: (encoder: UInt64, head: UInt64)
    ) throws -> (cpu: ([Float], ListHeadGradients, EncoderGradients), gpu: ([Float], ListHeadGradients, EncoderGradients)) {
        func run<Backend: TrainingBackend>(_ backend: Backend) throws -> ([Float], ListHeadGradients, EncoderGradients) {
            try step(backend, encoder: encoder, encoderParameters: encoderParameters, head: head,
                     headParameters: headParameters, recomputation: recomputation, texts: texts, lists: lists,
                     logitGradients: logitGradients, seeds: seeds)
        }
        return (try run(CPUTrainingBackend()), try run(try CUDATrainingBackend(index: 0)))
    }

    /// m3e-small's encoder (downloaded) under a small new head, both with dropout on, and one
    /// micro-batch at its real shapes: one long text (the longest attention blocks) among short
    /// ones, 243 tokens, so that the software device takes seconds, not minutes.
    struct M3ESmallCase {
        let encoderParameters: EncoderParameters, headParameters: ListHeadParameters
        let encoder: EncoderNetwork, head: ListHeadNetwork
        let texts: [[Int32]], lists: [Int], logitGradients: [Float]

        init() throws {
            let directory = try #require(EncoderFixtures.downloadedModel("m3e-small"), "run tools/fetch-test-models.sh")
            encoderParameters = try EncoderParameters.load(modelDirectory: directory).parameters
            headParameters = ListHeadParameters.initialised(
                shape: try ListHeadShape(hidden: 512, width: 64, feedForward: 96, heads: 4, layers: 2), seed: 9)
            encoder = EncoderNetwork(layout: encoderParameters.layout, dropout: try EncoderDropout(hidden: 0.1, attention: 0.1))
            head = try ListHeadNetwork(layout: headParameters.layout, dropout: 0.1)
            lists = [3, 2]
            var generator = SeededGenerator(seed: 21)
            texts = [118, 12, 40, 9, 64].map { length in (0..<length).map { _ in Int32(generator.next() % 21_128) } }
            logitGradients = (0..<lists.reduce(0) { $0 + $1 - 1 }).map { _ in generator.normal() }
        }
    }

    /// Logits within 1e-5 and every encoder and head gradient tensor within 1e-4 of the CPU's
    /// (relative to the tensor's largest), dropout off and on (the same Philox masks on both), in
    /// each recomputation mode.
    @Test(arguments: [false, true], EncoderRecomputation.allCases)
    func gradientsAreTheCPUs(dropout: Bool, recomputation: EncoderRecomputation) throws {
        guard SoftwareCUDADevice.forTest(registering: [CUDATrainingKernelSource.source]) != nil else { return }
        let encoderParameters = try EncoderParameters.load(modelDirectory: TrainingFixtures.tinyModel).parameters
        let headParameters = try ListHeadParameters.load(modelDirectory: TrainingFixtures.tinyModel)
        let encoder = EncoderNetwork(layout: encoderParameters.layout,
                                     dropout: dropout ? try EncoderDropout(hidden: 0.1, attention: 0.1) : .off)
        let head = try ListHeadNetwork(layout: headParameters.layout, dropout: dropout ? 0.1 : 0)
        let lists = [4, 2, 5]
        let (texts, weights) = Self.micro(seed: 3, vocabulary: encoderParameters.shape.vocabulary, lists: lists)

        let ((cpuLogits, cpuHead, cpuEncoder), (gpuLogits, gpuHead, gpuEncoder)) = try Self.stepOnBothDevices(
            encoder: encoder, encoderParameters: encoderParameters, head: head, headParameters: headParameters,
            recomputation: recomputation, texts: texts, lists: lists, logitGradients: weights, seeds: (17, 18))
        #expect(maxAbsoluteError(gpuLogits, cpuLogits) <= 1e-5)
        var worst: Float = 0
        func compare(_ name: String, _ cpu: [Float], _ gpu: [Float]) {
            let scale = max(cpu.map { abs($0) }.max() ?? 0, 1e-3)
            worst = max(worst, maxAbsoluteError(gpu, cpu) / scale)
            #expect(maxAbsoluteError(gpu, cpu) / scale <= 1e-4, "\(name): \(maxAbsoluteError(gpu, cpu)) of \(scale)")
        }
        for entry in headParameters.layout.entries {
            compare(entry.name, try cpuHead.tensor(entry.name), try gpuHead.tensor(entry.name))
        }
        for entry in encoderParameters.layout.entries {
            compare(entry.name, try cpuEncoder.tensor(entry.name), try gpuEncoder.tensor(entry.name))
        }
        #expect(cpuEncoder.values.contains { $0 != 0 })
        print("stage 2, dropout \(dropout), \(recomputation): logits within \(maxAbsoluteError(gpuLogits, cpuLogits)), "
              + "gradients within \(worst) of each tensor's largest")
    }

    /// The activations are allocated uncleared (``TrainingBackend/scratch(_:)``), so the parity
    /// tests above prove that every one is written whole before it is read only if a slot nobody
    /// wrote would show: under test, such a buffer is NaN, also when the pool hands a used block
    /// out again.
    @Test func unclearedBuffersAreNaNUntilWritten() throws {
        guard SoftwareCUDADevice.forTest(registering: [CUDATrainingKernelSource.source]) != nil else { return }
        let backend = try CUDATrainingBackend(index: 0)
        let count = 3000
        let first = try backend.scratch(count)
        #expect(try backend.download(first.pointer, count: count).allSatisfy(\.isNaN))
        try backend.upload([Float](repeating: 1, count: count), to: first.pointer)
        let address = first.pointer.address
        _ = consume first
        let again = try backend.scratch(count)
        #expect(again.pointer.address == address, "the pool hands the block out again")
        #expect(try backend.download(again.pointer, count: count).allSatisfy(\.isNaN))
    }

    /// The memory count the trainer fits micro-batches by (``EncoderActivationMemory`` with the
    /// backend's ``ActivationStorage``) is what a forward on the device holds, in both precisions,
    /// every recomputation mode, dropout on and off; so are its parts the backward allocates (one
    /// layer's gradient buffers, a re-run layer's own buffers). The default mode's peak in bf16 is
    /// below fp32's; the GPU's attention keeps a log-sum-exp per token and head where the CPU keeps the
    /// probabilities, and its backward's scratch is a Float32 per token and head (each query row's
    /// `rowsum(P ⊙ dP)`), where the CPU's is two blocks of the longest text.
    @Test(arguments: [CUDATrainingBackend.ProductPrecision.fp32, .bf16])
    func activationCountIsWhatTheDeviceHolds(precision: CUDATrainingBackend.ProductPrecision) throws {
        guard SoftwareCUDADevice.forTest(registering: [CUDATrainingKernelSource.source]) != nil else { return }
        let backend = try CUDATrainingBackend(index: 0, productPrecision: precision)
        let storage = backend.activationStorage
        #expect(storage == (precision == .bf16 ? .gpuBF16 : .gpuFP32))
        let parameters = try EncoderParameters.load(modelDirectory: TrainingFixtures.tinyModel).parameters
        let shape = parameters.shape
        let (texts, _) = Self.micro(seed: 5, vocabulary: shape.vocabulary, lists: [4, 3])
        let lengths = texts.map(\.count), n = lengths.reduce(0, +)
        for dropout in [EncoderDropout.off, try EncoderDropout(hidden: 0.1, attention: 0.1)] {
            let encoder = EncoderNetwork(layout: parameters.layout, dropout: dropout)
            for recomputation in EncoderRecomputation.allCases {
                let pass = try encoder.activations(for: texts, dropoutSeed: 1, recomputation: recomputation, backend: backend)
                let count = EncoderActivationMemory(lengths: lengths, shape: shape, dropout: dropout,
                                                    recomputation: recomputation, storage: storage)
                #expect(count.savedBytes == pass.savedBytes, "\(precision) \(dropout) \(recomputation)")
                if recomputation.recomputes {
                    let layer = try encoder.layerScratch(pass, backend: backend)
                    #expect(layer.allocatedOwnBytes == EncoderLayerActivations<CUDATrainingBackend>.ownBytes(
                        tokens: n, shape: shape, lengths: lengths, dropout: dropout, storage: storage))
                }
            }
        }
        let gradients = try EncoderLayerGradientBuffers(tokens: n, shape: shape, backend: backend)
        #expect(gradients.allocatedBytes == EncoderLayerGradientBuffers<CUDATrainingBackend>.bytes(tokens: n, shape: shape,
                                                                                                    storage: storage))
        #expect(storage.attentionScratchBytes(lengths: lengths, heads: shape.heads) == 4 * shape.heads * n)
        // What attention keeps: a log-sum-exp per token and head, where the CPU keeps every probability.
        #expect(storage.attentionKeptCount(lengths: lengths, heads: shape.heads) == shape.heads * n)
        #expect(ActivationStorage.cpu.attentionKeptCount(lengths: lengths, heads: shape.heads)
                    == lengths.reduce(0) { $0 + shape.heads * $1 * $1 })
        // The default mode's peak in bf16 is below fp32's (operands in 2 bytes outweigh the copies).
        func peak(_ storage: ActivationStorage) throws -> Int {
            EncoderActivationMemory(lengths: lengths, shape: shape, dropout: try EncoderDropout(hidden: 0.1, attention: 0.1),
                                    recomputation: .attention, storage: storage).peakBytes
        }
        #expect(try peak(.gpuBF16) < peak(.gpuFP32))
        #expect(ActivationStorage.cpu.attentionScratchBytes(lengths: lengths, heads: shape.heads)
                    == 8 * (lengths.max() ?? 0) * (lengths.max() ?? 0))
    }

    /// `train --stage 2 --device cuda`'s first 20 steps on the tiny model (dropout on) against the
    /// CPU's, its dev evaluations (each epoch's end, the dev texts encoded on the device) against
    /// the CPU's, and the checkpoint it writes served by the unchanged inference code with the scores
    /// of the trainer's own forward on the same weights.
    @Test func twentyStepsTrackTheCPUAndTheCheckpointServes() throws {
        guard SoftwareCUDADevice.forTest(registering: [CUDATrainingKernelSource.source]) != nil else { return }
        let root = try TrainerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = try TrainerTests.firstQueries(12, as: root.appendingPathComponent("data.jsonl"))
        // A small dev set: evaluations run at every epoch's end (3 steps here), on the emulated device.
        let dev = try TrainerTests.firstQueries(3, as: root.appendingPathComponent("dev.jsonl"))
        let c = Self.twentyStepConfiguration(epochs: 20)
        let (cpu, _) = try Self.twentySteps(c, on: .cpu, data: data, into: root.appendingPathComponent("cpu"), dev: dev)
        let (gpu, output) = try Self.twentySteps(c, on: .cuda(index: 0), data: data, into: root.appendingPathComponent("gpu"),
                                                  dev: dev)
        #expect(cpu.losses.count == 20 && gpu.losses.count == 20)
        #expect(maxAbsoluteError(gpu.losses, cpu.losses) <= 1e-3, "CPU \(cpu.losses)\nGPU \(gpu.losses)")
        let start = try EncoderParameters.load(modelDirectory: TrainingFixtures.tinyModel).parameters
        let trained = try #require(gpu.encoder)
        #expect(trained.values != start.values)
        print("stage 2, 20 steps: losses within \(maxAbsoluteError(gpu.losses, cpu.losses)) (first loss \(cpu.losses[0]))")
        // Dev evaluations (the GPU run's dev texts encoded on the device): the same steps, the same MAP.
        #expect(gpu.evaluations.map(\.step) == cpu.evaluations.map(\.step) && gpu.evaluations.count >= 3)
        for (g, c) in zip(gpu.evaluations, cpu.evaluations) {
            #expect(abs(g.map - c.map) <= 1e-3 && abs(g.mrrAt10 - c.mrrAt10) <= 1e-3, "step \(c.step): \(g.map) vs \(c.map)")
        }

        try Self.expectCheckpointServes(output, trained: gpu, maxLength: c.maxLength)
    }

    /// Stage 2 of the tiny model: `epochs` epochs of 4 lists a step in micro-batches of 2, dropout on.
    static func twentyStepConfiguration(epochs: Int) -> TrainingConfiguration {
        var c = Stage2TrainerTests.configuration()
        c.epochs = epochs
        c.batchSize = 4
        c.microBatchSize = 2
        c.dropout = 0.1
        return c
    }

    /// The first 20 steps of `c` on `device` from the tiny model, into `output` (`dev`: evaluated
    /// at each epoch's end).
    static func twentySteps(_ c: TrainingConfiguration, on device: Device, data: URL, into output: URL,
                            dev: URL? = nil) throws -> (TrainingSummary, URL) {
        var run = TrainingRun(start: .model(TrainingFixtures.tinyModel), data: data, output: output)
        run.device = device
        run.stopAfterStep = 20
        run.evaluationData = dev
        return (try Trainer(configuration: c, run: run).train(), output)
    }

    /// A stage-2 checkpoint in `output`: the trained values under their names, served by the
    /// unchanged inference code with the scores of the trainer's own forward on the same weights.
    static func expectCheckpointServes(_ output: URL, trained summary: TrainingSummary, maxLength: Int) throws {
        let trained = try #require(summary.encoder)
        #expect(try EncoderParameters.load(modelDirectory: output).parameters.values == trained.values)
        #expect(try ListHeadParameters.load(modelDirectory: output) == summary.parameters)
        let query = Stage2TrainerTests.query, passages = Stage2TrainerTests.passages
        let tokenizer = try BertTokenizer(directory: output)
        let ids = ([query] + passages).map { tokenizer.encode($0, maxLength: maxLength).ids }
        let pooled = try EncoderNetwork(layout: trained.layout).forward(ids, parameters: trained).pooled
        let batch = try ListBatch(pooled: pooled, hidden: trained.shape.hidden, listLengths: [ids.count])
        let ours = try ListHeadNetwork(layout: summary.parameters.layout).forward(batch, parameters: summary.parameters).scores
        let served = try Reranker(modelDirectory: output, options: RerankerOptions(maxLength: maxLength))
            .scores(query: query, passages: passages)
        #expect(maxAbsoluteError(served, ours) <= 1e-5)
    }

    /// A stage-2 run on the device stopped after 2 steps and resumed there reaches the
    /// uninterrupted run's weights and losses bit for bit (dropout on, 2 micro-batches a step), in
    /// either precision (bf16's copies are made from the restored fp32 weights as from any
    /// others); a bf16 run resumed in fp32 is refused, naming the precision.
    @Test(arguments: [Precision.fp32, .bf16])
    func resumeOnTheDeviceReachesTheSameWeights(precision: Precision) throws {
        guard SoftwareCUDADevice.forTest(registering: [CUDATrainingKernelSource.source]) != nil else { return }
        let root = try TrainerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = try TrainerTests.firstQueries(8, as: root.appendingPathComponent("data.jsonl"))
        var c = Stage2TrainerTests.configuration()
        c.epochs = 2
        c.batchSize = 4
        c.microBatchSize = 2
        c.dropout = 0.1
        c.precision = precision
        func train(_ output: URL, _ c: TrainingConfiguration, _ configure: (inout TrainingRun) -> Void) throws -> TrainingSummary {
            var run = TrainingRun(start: .model(TrainingFixtures.tinyModel), data: data, output: output)
            run.device = .cuda(index: 0)
            configure(&run)
            return try Trainer(configuration: c, run: run).train()
        }
        let whole = try train(root.appendingPathComponent("whole"), c) { _ in }
        let cut = root.appendingPathComponent("cut")
        let first = try train(cut, c) { $0.stopAfterStep = 2 }
        #expect(first.step == 2 && whole.totalSteps > 2)
        if precision == .bf16 {
            var fp32 = c
            fp32.precision = .fp32
            #expect { try train(cut, fp32) { $0.resume = true } } throws: { "\($0)".contains("precision: bf16 → fp32") }
        }
        let resumed = try train(cut, c) { $0.resume = true }
        #expect(resumed.step == whole.totalSteps)
        #expect(resumed.parameters.values == whole.parameters.values)
        #expect(resumed.encoder?.values == whole.encoder?.values)
        #expect(resumed.losses == Array(whole.losses.dropFirst(2)))
    }

    /// The same comparison at a real encoder's shapes: m3e-small (hidden 512, 8 heads of 64, texts
    /// of up to 118 tokens) under a small head, dropout on, `--recompute` (attention). Every tensor
    /// within 1e-4 of its largest, except the attention key biases, whose gradient is zero in exact
    /// arithmetic (``EncoderFixtures/isKeyBias(_:)``): theirs must stay below
    /// ``EncoderFixtures/keyBiasResidueBound`` of the layer's key weight gradient on both devices.
    @Test(.enabled(if: EncoderFixtures.realModelTestsRun("m3e-small"), "needs .models/m3e-small"))
    func m3eSmallGradientsAreTheCPUs() throws {
        guard SoftwareCUDADevice.forTest(registering: [CUDATrainingKernelSource.source]) != nil else { return }
        let m3e = try M3ESmallCase()
        let (encoderParameters, headParameters, texts) = (m3e.encoderParameters, m3e.headParameters, m3e.texts)
        let ((cpuLogits, cpuHead, cpuEncoder), (gpuLogits, gpuHead, gpuEncoder)) = try Self.stepOnBothDevices(
            encoder: m3e.encoder, encoderParameters: encoderParameters, head: m3e.head, headParameters: headParameters,
            recomputation: .attention, texts: texts, lists: m3e.lists, logitGradients: m3e.logitGradients, seeds: (5, 6))
        #expect(maxAbsoluteError(gpuLogits, cpuLogits) <= 1e-5)
        func largest(_ values: [Float]) -> Float { values.map { abs($0) }.max() ?? 0 }
        func norm(_ values: [Float]) -> Double { values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }
        var worst: Float = 0
        for entry in headParameters.layout.entries {
            let cpu = try cpuHead.tensor(entry.name), gpu = try gpuHead.tensor(entry.name)
            let scale = max(largest(cpu), 1e-3)
            worst = max(worst, maxAbsoluteError(gpu, cpu) / scale)
            #expect(maxAbsoluteError(gpu, cpu) / scale <= 1e-4, "\(entry.name): \(maxAbsoluteError(gpu, cpu)) of \(scale)")
        }
        for entry in encoderParameters.layout.entries {
            let cpu = try cpuEncoder.tensor(entry.name), gpu = try gpuEncoder.tensor(entry.name)
            if EncoderFixtures.isKeyBias(entry.name) {
                let key = EncoderFixtures.keyWeight(ofKeyBias: entry.name)
                for (values, gradients) in [(gpu, gpuEncoder), (cpu, cpuEncoder)] {
                    let bound = EncoderFixtures.keyBiasResidueBound * norm(try gradients.tensor(key))
                    #expect(norm(values) <= bound, "\(entry.name): residue \(norm(values)) over \(bound)")
                }
                continue
            }
            let scale = max(largest(cpu), 1e-3)
            worst = max(worst, maxAbsoluteError(gpu, cpu) / scale)
            #expect(maxAbsoluteError(gpu, cpu) / scale <= 1e-4, "\(entry.name): \(maxAbsoluteError(gpu, cpu)) of \(scale)")
        }
        print("stage 2 on m3e-small (\(texts.map(\.count).reduce(0, +)) tokens): logits within "
              + "\(maxAbsoluteError(gpuLogits, cpuLogits)), gradients within \(worst) of each tensor's largest")
    }
}
