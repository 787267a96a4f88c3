import Foundation
import ListConRanker
import ListConRankerDistributed
import ListConRankerCUDA

/// Training (DESIGN §1.4) with Circle Loss, AdamW, linear warm-up then decay, clipping by global
/// norm, dropout and gradient accumulation over micro-batches. Stage 1: the encoder frozen,
/// `linear_in_embedding` and the ListTransformer trained on cached features. Stage 2: every
/// parameter trained, the gradient carried from the head's pooled inputs back through BERT
/// (``EncoderTraining``); the features change with every step, so no cache is used.
///
/// A run: read the data (bad lines are errors with their line; samples without a positive or a
/// negative are skipped and counted), check the output directory (``TrainingOutput/check(_:expected:resume:)``),
/// in stage 1 encode the texts the ``FeatureCache`` lacks, start or restore the parameters and optimizer, then
/// take ``TrainingConfiguration/epochs`` passes of shuffled batches (``ListSampler``). Dev MAP and
/// MRR@10 come after every epoch (and every ``TrainingRun/evaluateEvery`` steps); checkpoints in the
/// official layout after every epoch and at the end. Callbacks report progress; the CLI is a
/// thin layer on this type.
public final class Trainer {
    /// The hyper-parameters.
    public let configuration: TrainingConfiguration
    /// Files and reporting.
    public let run: TrainingRun
    /// Encoding progress: (texts done, texts to encode).
    public var onEncoding: ((Int, Int) -> Void)?
    /// After every optimizer step.
    public var onStep: ((TrainingStepReport) -> Void)?
    /// After every evaluation.
    public var onEvaluation: ((TrainingEvaluationReport) -> Void)?
    /// One-line notes for people (skipped samples, cache use, checkpoints).
    public var onMessage: ((String) -> Void)?

    /// A trainer; throws if a hyper-parameter is out of range.
    public init(configuration: TrainingConfiguration, run: TrainingRun) throws {
        try configuration.validate()
        if let every = run.evaluateEvery, every < 1 { throw TrainingError.invalidInput("eval-every must be at least 1, got \(every)") }
        if let every = run.saveEvery, every < 1 { throw TrainingError.invalidInput("save-every must be at least 1, got \(every)") }
        if configuration.stage == 2, configuration.precision == .bf16, !run.device.isGPU {
            throw TrainingError.invalidInput("stage 2 trains in bf16 on a GPU only: bf16 training needs a CUDA device "
                + "(--device cuda); on the CPU stage 2 trains in fp32 (--precision fp32)")
        }
        self.configuration = configuration
        self.run = run
    }

    /// Runs (or resumes) the training; returns what it did.
    public func train() throws -> TrainingSummary {
        let c = configuration
        let ranks = run.communicator
        // A GPU that cannot open says so (what was looked for, and where) before any work.
        var trainedOn = "cpu"
        if case .cuda(let index) = run.device { trainedOn = "GPU " + (try CUDADevice.shared(index: index)).name }
        // 1. Data, before anything is written.
        let dataset = try RerankingDataset(contentsOf: run.data)
        if let bad = dataset.samples.first(where: { $0.query.isEmpty }) {
            throw TrainingError.invalidInput("\(run.data.path):\(bad.line): the query is empty")
        }
        let usable = dataset.samples.filter(\.isScorable)
        let skipped = dataset.samples.count - usable.count
        guard !usable.isEmpty else {
            throw TrainingError.invalidInput("\(run.data.path): no sample has both a positive and a negative (\(skipped) skipped)")
        }
        if skipped > 0 { onMessage?("skipped \(skipped) of \(dataset.samples.count) training samples without a positive or a negative") }
        let devSamples = try run.evaluationData.map { try RerankingDataset(contentsOf: $0) }

        // 2. The output directory: fresh, or a run of the same settings to resume.
        let sampler = try ListSampler(samples: usable, listSize: c.listSize, maxPositives: c.resolvedMaxPositives,
                                      batchSize: c.batchSize, seed: c.seed)
        let totalSteps = sampler.stepsPerEpoch * c.epochs
        let warmup = Int((Double(totalSteps) * Double(c.warmupRatio)).rounded(.up))
        let schedule = try LinearWarmupSchedule(peak: c.learningRate, warmupSteps: min(warmup, totalSteps), totalSteps: totalSteps)
        let dataDigest: String
        do { dataDigest = try SHA256.hexDigest(ofFileAt: run.data) } catch {
            throw TrainingError.invalidInput("\(run.data.path): cannot read: \(error.localizedDescription)")
        }
        try ranks.requireSame(dataDigest, what: "the training data (\(run.data.path))")
        let start = run.start.directory
        let trainsEncoder = c.stage == 2
        let output = try TrainingOutput(directory: run.output, start: start, trainsEncoder: trainsEncoder)
        let initial = try initialParameters()
        // Stage 2: the encoder's master parameters, gradients and optimizer.
        let encoder = try trainsEncoder ? EncoderTraining(directory: start, maxLength: c.maxLength,
                                                          weightDecay: c.weightDecay, recomputation: run.recomputation) : nil
        if let encoder, encoder.hidden != initial.shape.hidden {
            throw TrainingError.badWeights("\(start.path): the encoder's hidden size \(encoder.hidden) differs from the head's input \(initial.shape.hidden)")
        }
        let headCount = initial.layout.count
        var header = TrainingStateFile.Header(configuration: c, start: run.start.description, dataDigest: dataDigest, step: 0,
                                              totalSteps: totalSteps, parameterCount: headCount + (encoder?.parameterCount ?? 0))
        header.ranks = ranks.isDistributed ? ranks.size : nil
        // Rank 0 alone reads and writes the output directory (other hosts need not see it).
        let saved = try DataParallel.rootResult(ranks) {
            try TrainingOutput.check(run.output, expected: header, resume: run.resume)
        }
        if let saved, (saved.ranks ?? 1) != ranks.size {
            throw TrainingError.invalidInput("\(run.output.path) was trained by \(saved.ranks ?? 1) process(es) and this job has "
                + "\(ranks.size): resume it with the same number of ranks (each takes the same share of every batch)")
        }

        // 3. Features (stage 1): encode what the cache lacks. Stage 2 encodes every step instead.
        let hidden = initial.shape.hidden
        var cache: FeatureCache?
        var encoded = 0
        if encoder == nil {
            // Vectors computed in bf16 differ from fp32 ones: the cache keeps them apart.
            // And a GPU's from the CPU's (another order of summation).
            let identity = try EncoderIdentity(directory: start, maxLength: c.maxLength)
                .qualified(by: "precision \(c.precision.rawValue)" + (run.device.isGPU ? " on a GPU" : ""))
            let features: FeatureCache
            (features, encoded) = try FeatureEncoding.encodeMissing(
                usable + (devSamples?.samples ?? []), root: run.resolvedFeatureCache, identity: identity, hidden: hidden,
                encoderDirectory: start, maxLength: c.maxLength, precision: c.precision, device: run.device,
                communicator: ranks,
                onWaitingForLock: { [onMessage] path in onMessage?("waiting for another run encoding into \(path)") },
                progress: onEncoding)
            onMessage?("features: \(encoded) texts encoded, \(features.count - encoded) found in \(features.directory.path)")
            cache = features
        } else {
            onMessage?("stage 2: the encoder trains, so its features change every step; no feature cache is read or "
                + "written (cached stage-1 features belong to the original encoder)"
                + (encoder.map { "; " + $0.recomputation.summary } ?? ""))
        }
        let indexed = try cache.map { try FeatureEncoding.index(usable, in: $0) }

        // 4. Parameters and optimizer: fresh, or restored bit for bit.
        var parameters = initial
        var optimizer = try AdamW(layout: initial.layout, weightDecay: c.weightDecay)
        if saved != nil {
            let state = try DataParallel.broadcastState(ranks) { try TrainingStateFile.read(in: run.output) }
            parameters = try ListHeadParameters(layout: initial.layout, values: Array(state.parameters[..<headCount]))
            try optimizer.restore(step: state.header.step, firstMoments: Array(state.firstMoments[..<headCount]),
                                  secondMoments: Array(state.secondMoments[..<headCount]))
            if let encoder {
                encoder.parameters = try EncoderParameters(layout: encoder.parameters.layout,
                                                           values: Array(state.parameters[headCount...]),
                                                           keyPrefix: encoder.parameters.keyPrefix)
                try encoder.optimizer.restore(step: state.header.step, firstMoments: Array(state.firstMoments[headCount...]),
                                              secondMoments: Array(state.secondMoments[headCount...]))
            }
            header = state.header
            onMessage?("resuming at step \(header.step) of \(totalSteps)")
            if let saved = header.device, saved != trainedOn {
                onMessage?("the saved steps were trained on \(saved), these run on \(trainedOn): the run goes on from the "
                           + "saved state, its steps the same to rounding but not bit for bit (a run resumes bit-exact "
                           + "on the device it was saved on)")
            }
        }
        let log = try ranks.isRoot ? run.log.map { try TrainingLog(url: $0) } : nil
        let board = try ranks.isRoot ? run.tensorboard.map { try TensorBoardWriter(directory: $0) } : nil
        let cachedEvaluation = try devSamples.flatMap { dev in try cache.map { try HeadEvaluator.cached(dataset: dev, cache: $0) } }
        let evaluator = devSamples.map { HeadEvaluator(dataset: $0, hidden: hidden) }
        var evaluations: [TrainingEvaluationReport] = []

        func writeCheckpoint(folder: String = "") throws {
            guard ranks.isRoot else { return }
            try output.writeCheckpoint(parameters, encoder: encoder?.parameters, folder: folder)
        }
        func evaluate(step: Int) throws {
            guard let evaluator else { return }
            let vectors = try cachedEvaluation?.1 ?? encoder!.evaluationVectors(device: run.device)
            let metrics = try evaluator.evaluate(parameters, vectors: vectors, communicator: ranks)
            let isBest = metrics.map > (header.bestMAP ?? -1)
            if isBest {
                header.bestMAP = metrics.map
                header.bestStep = step
                try writeCheckpoint(folder: "best")
            }
            let report = TrainingEvaluationReport(step: step, epoch: Double(step) / Double(sampler.stepsPerEpoch),
                                                  map: metrics.map, mrrAt10: metrics.mrrAt10, isBest: isBest)
            evaluations.append(report)
            try log?.write(["event": "eval", "step": step, "epoch": report.epoch, "map": metrics.map,
                            "mrr_at_10": metrics.mrrAt10, "best": isBest])
            try board?.scalar("eval/map", Float(metrics.map), step: step)
            try board?.scalar("eval/mrr_at_10", Float(metrics.mrrAt10), step: step)
            onEvaluation?(report)
        }
        func save(epochFolder: String?) throws {
            header.step = optimizer.step
            header.device = trainedOn
            // Every rank must hold the weights rank 0 writes: a cheap proof at each save.
            try DataParallel.requireSameWeights(ranks, parameters.values, encoder?.parameters.values ?? [])
            guard ranks.isRoot else { return }
            try writeCheckpoint()
            if let epochFolder { try writeCheckpoint(folder: epochFolder) }
            // Stage 2's state holds the encoder's after the head's, in one block each; streamed, not concatenated.
            try TrainingStateFile.write(header: header, parameters: [parameters.values] + (encoder.map { [$0.parameters.values] } ?? []),
                                        firstMoments: [optimizer.firstMoments] + (encoder.map { [$0.optimizer.firstMoments] } ?? []),
                                        secondMoments: [optimizer.secondMoments] + (encoder.map { [$0.optimizer.secondMoments] } ?? []),
                                        to: run.output)
        }

        if saved == nil {
            if ranks.isRoot { try FileManager.default.createDirectory(at: run.output, withIntermediateDirectories: true) }
            try evaluate(step: 0)
            try save(epochFolder: nil)
        }

        // 5. The loop.
        let network = try ListHeadNetwork(layout: initial.layout, dropout: c.dropout)
        // On a GPU the whole step runs there, on parameters, gradients and moments resident for
        // the run (the host's copies are brought up to date when read): stage 1 the head's forward
        // and backward, stage 2 the encoder's and the head's, then the sum over micro-batches,
        // clipping and AdamW. A job of several processes sums its gradients across ranks on the host.
        // In bf16, either stage: every product on bf16 copies of its inputs (autocast's mixed
        // precision), stage 1's on features encoded in bf16 (above). (The CPU trains in fp32; its
        // stage 1 in bf16 is the features' precision alone.)
        let products: CUDATrainingBackend.ProductPrecision = c.precision == .bf16 ? .bf16 : .fp32
        let gpuBackend: CUDATrainingBackend?
        if case .cuda(let index) = run.device {
            gpuBackend = try CUDATrainingBackend(index: index, productPrecision: products)
        } else {
            gpuBackend = nil
        }
        let gpu = try gpuBackend.map { backend in
            try DeviceTrainingState(backend: backend, head: parameters, headOptimizer: optimizer,
                                    encoder: encoder?.parameters, encoderOptimizer: encoder?.optimizer,
                                    microBatches: Self.microBatchSum(products: products, distributed: ranks.isDistributed,
                                                                     microBatchesPerStep: c.batchSize > c.microBatchSize))
        }
        // A run that chose no recomputation mode recomputes more for a micro-batch the GPU has no room for.
        let gpuStage2 = gpuBackend.flatMap { backend in
            encoder.map { Stage2DeviceStep(encoder: $0.network, head: network, recomputation: $0.recomputation,
                                           fitsMemory: run.recomputation == nil, backend: backend) }
        }
        var reportedRecomputation = encoder?.recomputation
        /// The host's parameters (and, for a save, the optimizer's moments) as the device holds them.
        func readFromDevice(moments: Bool) throws {
            guard let gpu else { return }
            let values = try gpu.downloadParameters()
            parameters.values = values.head
            encoder?.parameters.values = values.encoder
            guard moments else { return }
            let (first, second) = try gpu.downloadMoments()
            try optimizer.restore(step: optimizer.step, firstMoments: first.head, secondMoments: second.head)
            if let encoder {
                try encoder.optimizer.restore(step: encoder.optimizer.step, firstMoments: first.encoder,
                                              secondMoments: second.encoder)
            }
        }
        let kernels = gpuBackend.map { backend in
            PhaseClock.KernelTimeline(start: { try backend.device.startTimingKernels() },
                                      take: { try backend.device.takeKernelProfile() })
        }
        let clock = run.profilesPhases ? PhaseClock(waitForDevice: { try gpuBackend?.device.synchronize() }, kernels: kernels) : nil
        let loss = try CircleLoss(margin: c.margin, scale: c.gamma)
        var gradients = ListHeadGradients(layout: initial.layout)
        var losses: [Float] = []
        // Micro-batches and ranks summed in double (the same sum however the batch is split); in
        // stage 2 over several ranks each layer's sum across ranks overlaps the backward below it.
        // One process with one micro-batch per step needs no sum; on a GPU one process sums there.
        let sum = ranks.isDistributed || (gpu == nil && c.batchSize > c.microBatchSize)
            ? GradientSum(communicator: ranks, headCount: headCount, encoder: encoder?.parameters.layout,
                          overlaps: run.overlapsReduction) : nil
        defer { sum?.stop() }
        var noEncoderGradients: [Float] = []
        while optimizer.step < totalSteps {
            if let stop = run.stopAfterStep, optimizer.step >= stop { break }
            let began = DispatchTime.now().uptimeNanoseconds
            try clock?.start()
            let step = optimizer.step
            let epoch = step / sampler.stepsPerEpoch
            // The global batch; this rank takes its contiguous share (all of it for one process).
            let lists = sampler.batch(epoch: epoch, batch: step % sampler.stepsPerEpoch)
            let share = lists[ranks.share(of: lists.count)]
            if let gpu {
                try gpu.beginStep()
            } else {
                gradients.zero()
                encoder?.gradients.zero()
            }
            /// A micro-batch's gradients on the GPU are complete: summed there (the step's `last` as the
            /// sums are rounded), or across ranks here.
            func endGPUMicroBatch(_ gpu: DeviceTrainingState<CUDATrainingBackend>, last: Bool) throws {
                if let sum {
                    var (head, encoder) = try gpu.takeGradients()
                    sum.add(head: &head, encoder: &encoder)
                } else {
                    try gpu.endMicroBatch(last: last)
                }
                try clock?.lap("gradient_sum")
            }
            var stepLoss = 0.0
            var stepActivationBytes = 0     // the largest micro-batch's encoder activations by count (GPU stage 2)
            // On a GPU the loss is computed there (HeadLossGradient.circleLoss): each list's loss stays
            // there, after the step's earlier micro-batches', until the step's end.
            let deviceLosses = try gpu.map { try $0.backend.scratch(share.count) }
            var microBatchLists: [Int] = []
            /// The step's loss from the lists' losses on the device: each micro-batch's mean (its
            /// lists' losses over the step's list count), summed, as the host's loss sums them.
            func takeDeviceLoss() throws {
                guard let gpu, let deviceLosses else { return }
                let values = try gpu.backend.download(deviceLosses.pointer, count: share.count)
                var start = 0
                for count in microBatchLists {
                    stepLoss += Double(CircleLoss.meanLoss(values[start..<start + count], divisor: lists.count))
                    start += count
                }
            }
            for first in stride(from: share.startIndex, to: share.endIndex, by: c.microBatchSize) {
                let part = share[first..<min(first + c.microBatchSize, share.endIndex)]
                let dropoutKey = DataParallel.dropoutKey(first: first, microBatchSize: c.microBatchSize)
                var pooled: [Float] = []
                var texts: [String] = []
                var lengths: [Int] = [], relevant: [Bool] = []
                for list in part {
                    let sample = usable[list.query]
                    texts.append(sample.query)
                    if let cache, let indexed { cache.append(row: indexed[list.query].query, to: &pooled) }
                    for passage in list.passages {
                        texts.append(passage.positive ? sample.positives[passage.index] : sample.negatives[passage.index])
                        if let cache, let indexed {
                            let rows = indexed[list.query]
                            cache.append(row: passage.positive ? rows.positives[passage.index] : rows.negatives[passage.index],
                                         to: &pooled)
                        }
                        relevant.append(passage.positive)
                    }
                    lengths.append(list.passages.count + 1)
                }
                // Stage 2: the pooled vectors come from the encoder being trained (its own dropout stream).
                let encoderSeed = RandomStreams.seed(c.seed, .dropout, UInt64(step), dropoutKey, 2)
                let headSeed = RandomStreams.seed(c.seed, .dropout, UInt64(step), dropoutKey)
                // The loss's gradient given the logits (divided by the whole step's list count, so the
                // micro-batches' gradients add up to the mean's).
                func logitGradients(_ logits: [Float]) throws -> [Float] {
                    let result = try loss.evaluate(logits: logits, relevant: relevant, listLengths: lengths,
                                                   listCount: lists.count)
                    stepLoss += Double(result.loss)
                    return result.logitGradients
                }
                // The same on the GPU: the labels checked here and uploaded, the loss left there.
                func deviceLoss(_ gpu: DeviceTrainingState<CUDATrainingBackend>) throws -> HeadLossGradient<CUDATrainingBackend> {
                    guard let deviceLosses else { throw TrainingError.invalidInput("no device losses for a GPU step") }
                    try CircleLoss.check(relevant: relevant, listLengths: lengths)
                    microBatchLists.append(lengths.count)
                    return .circleLoss(loss, relevant: try gpu.backend.upload(relevant.map { $0 ? 1 : 0 }),
                                       divisor: lists.count, losses: deviceLosses.pointer + (first - share.startIndex))
                }
                // Several ranks: the last micro-batch completes each bucket of gradients; hand them over
                // as they come, so the sums across ranks overlap the backward below them.
                let last = first + c.microBatchSize >= share.endIndex
                let overlapped = last && sum?.overlapsBackward == true
                if let gpu, let gpuStage2, let encoder {
                    let handOver = overlapped ? sum.map { sum in
                        { (_: Int?) in
                            guard let bucket = sum.nextBucket else { return }
                            try gpu.downloadGradients(bucket).withUnsafeBufferPointer { try sum.bucketFinished($0) }
                        }
                    } : nil
                    _ = try gpuStage2.run(texts: texts.map(encoder.ids), listLengths: lengths, encoderSeed: encoderSeed,
                                          headSeed: headSeed, state: gpu, clock: clock, finished: handOver,
                                          loss: try deviceLoss(gpu))
                    stepActivationBytes = max(stepActivationBytes, gpuStage2.lastActivationBytes)
                    if gpuStage2.lastRecomputation != reportedRecomputation {
                        reportedRecomputation = gpuStage2.lastRecomputation
                        onMessage?("step \(step + 1): a micro-batch of \(texts.count) texts fits the GPU's free memory when "
                                   + gpuStage2.lastRecomputation.summary)
                    }
                    if overlapped { try clock?.lap("gradient_sum") } else { try endGPUMicroBatch(gpu, last: last) }
                    continue
                }
                let encoderPass = try encoder?.forward(texts, dropoutSeed: encoderSeed)
                if let encoderPass {
                    pooled = encoderPass.pooled
                    try clock?.lap("encoder_forward")
                }
                let batch = try ListBatch(pooled: pooled, hidden: hidden, listLengths: lengths)
                if let gpu {
                    try network.check(batch, gpu.headLayout)
                    _ = try network.forwardAndBackward(batch.lists, pooled: try gpu.backend.upload(batch.pooled),
                                                       parameters: gpu.headParameters, dropoutSeed: headSeed,
                                                       gradients: gpu.headGradients, pooledGradients: nil,
                                                       backend: gpu.backend, loss: try deviceLoss(gpu))
                    try clock?.lap("list_head")
                    try endGPUMicroBatch(gpu, last: last)
                    continue
                }
                let pass = try network.forward(batch, parameters: parameters, dropoutSeed: headSeed)
                let dlogits = try logitGradients(pass.logits)
                if let encoder, let encoderPass {
                    let pooledGradients = try network.backwardToPooled(pass, logitGradients: dlogits,
                                                                       parameters: parameters, gradients: &gradients)
                    try clock?.lap("list_head")
                    if overlapped, let sum {
                        gradients.values.withUnsafeBufferPointer { if let base = $0.baseAddress { sum.headFinished(base) } }
                    }
                    try encoder.backward(encoderPass, pooledGradients: pooledGradients,
                                         finished: overlapped ? sum.map { sum in { sum.encoderFinished(part: $0, $1) } } : nil)
                    try clock?.lap("encoder_backward")
                    if !overlapped { sum?.add(head: &gradients.values, encoder: &encoder.gradients.values) }
                } else {
                    try network.backward(pass, logitGradients: dlogits, parameters: parameters,
                                         gradients: &gradients)
                    try clock?.lap("list_head")
                    sum?.add(head: &gradients.values, encoder: &noEncoderGradients)
                }
                try clock?.lap("gradient_sum")
            }
            // Sum the ranks' gradients (each already divided by the global list count) and losses.
            let reduceBegan = DispatchTime.now().uptimeNanoseconds
            if let sum {
                try takeDeviceLoss()
                if let encoder {
                    try sum.finish(head: &gradients.values, encoder: &encoder.gradients.values, loss: &stepLoss)
                } else {
                    try sum.finish(head: &gradients.values, encoder: &noEncoderGradients, loss: &stepLoss)
                }
            }
            let reduceSeconds = Double(DispatchTime.now().uptimeNanoseconds - reduceBegan) / 1e9
            try clock?.lap("gradient_sum")
            let norm: Float, rate = schedule.learningRate(atStep: step)
            if let gpu {
                if sum != nil { try gpu.replaceGradients(head: gradients.values, encoder: encoder?.gradients.values ?? []) }
                norm = try gpu.clip(maxNorm: c.maxGradNorm)
                // One process: the loss comes back with the norm's wait (several: before the sums, above).
                if sum == nil { try takeDeviceLoss() }
                let headScalars = try optimizer.beginStep(learningRate: rate)
                try gpu.update(head: headScalars, encoder: try encoder?.optimizer.beginStep(learningRate: rate))
            } else {
                norm = try encoder.map { try GradientClipping.clip(&gradients, &$0.gradients, maxNorm: c.maxGradNorm) }
                    ?? GradientClipping.clip(&gradients, maxNorm: c.maxGradNorm)
                try optimizer.update(&parameters, gradients: gradients, learningRate: rate)
                try encoder?.update(learningRate: rate)
            }
            try clock?.lap("optimizer")
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9
            let report = TrainingStepReport(step: optimizer.step, totalSteps: totalSteps, epoch: epoch + 1, loss: Float(stepLoss),
                                            learningRate: rate, gradientNorm: norm, lists: lists.count, seconds: seconds,
                                            reduceSeconds: reduceSeconds)
            losses.append(report.loss)
            try log?.write(["event": "step", "step": report.step, "epoch": report.epoch, "loss": Double(report.loss),
                            "lr": Double(rate), "grad_norm": Double(norm), "lists": lists.count, "seconds": seconds]
                            .merging(ranks.isDistributed ? ["ranks": ranks.size, "reduce_seconds": reduceSeconds] : [:]) { a, _ in a }
                            .merging(clock.map { ["phases": $0.take()] } ?? [:]) { a, _ in a }
                            .merging(try clock?.takeKernels() ?? [:]) { a, _ in a }
                            .merging(clock == nil ? [:] : Self.deviceMemory(gpuBackend, activations: stepActivationBytes)) { a, _ in a })
            try board?.scalar("train/loss", report.loss, step: report.step)
            try board?.scalar("train/learning_rate", rate, step: report.step)
            try board?.scalar("train/grad_norm", norm, step: report.step)
            onStep?(report)

            let done = optimizer.step
            let epochEnd = done % sampler.stepsPerEpoch == 0
            let evaluates = epochEnd || (run.evaluateEvery.map { done % $0 == 0 } ?? false)
            let saves = epochEnd || (run.saveEvery.map { done % $0 == 0 } ?? false) || run.stopAfterStep == done
            if evaluates || saves { try readFromDevice(moments: saves) }
            if evaluates { try evaluate(step: done) }
            if epochEnd {
                try save(epochFolder: "epoch-\(done / sampler.stepsPerEpoch)")
                onMessage?("epoch \(done / sampler.stepsPerEpoch) saved in \(run.output.path)")
            } else if saves {
                try save(epochFolder: nil)
            }
        }
        try readFromDevice(moments: false)
        return TrainingSummary(parameters: parameters, encoder: encoder?.parameters, step: optimizer.step,
                               totalSteps: totalSteps, encodedTexts: encoded, skippedSamples: skipped,
                               evaluations: evaluations, losses: losses)
    }

    /// A profiled GPU step's memory, as a log field: the most the device's pool has held at once so
    /// far (measured: what the run's buffers took from the driver, the CUDA context's own not
    /// included) and, in stage 2, the encoder's activation peak of the step's largest micro-batch by
    /// ``EncoderActivationMemory``'s count, so that a GPU run checks the count the trainer fits
    /// micro-batches by. None on the CPU.
    static func deviceMemory(_ backend: CUDATrainingBackend?, activations: Int) -> [String: Any] {
        guard let backend else { return [:] }
        return ["device_memory": ["held_peak_bytes": backend.device.peakHeldBytes]
                    .merging(activations > 0 ? ["encoder_activation_count_bytes": activations] : [:]) { a, _ in a }]
    }

    /// Where a GPU step's micro-batches add up: in Double as the CPU sums them, for the fp32 parity
    /// mode with several micro-batches a step in one process; in place, in Float32, otherwise: a step
    /// of one, several ranks (whose sum across them is the host's, in Double), and mixed precision,
    /// where PyTorch's autocast accumulates `.grad` in Float32 too and the Double sums would cost
    /// 8 bytes a parameter (2.7 GB for BERT-large) and ~24 bytes of traffic a parameter a micro-batch.
    static func microBatchSum(products: CUDATrainingBackend.ProductPrecision, distributed: Bool,
                              microBatchesPerStep: Bool) -> DeviceTrainingState<CUDATrainingBackend>.MicroBatchSum {
        !distributed && microBatchesPerStep && products == .fp32 ? .inDouble : .inPlace
    }

    /// The head to start from: the model's, or a new one for the encoder.
    private func initialParameters() throws -> ListHeadParameters {
        switch run.start {
        case .model(let directory):
            return try ListHeadParameters.load(modelDirectory: directory)
        case .encoder(let directory):
            let config = try EncoderConfigurationFile.read(directory.appendingPathComponent("config.json"))
            let (hidden, heads) = (config.hiddenSize, config.headCount)
            let shape = try ListHeadShape(hidden: hidden, width: configuration.headWidth,
                                          feedForward: configuration.headFeedForward, heads: heads,
                                          layers: configuration.headLayers)
            return ListHeadParameters.initialised(shape: shape, seed: configuration.seed)
        }
    }
}
