import Foundation
import CUDAEmulation
import ListConRanker
import ListConRankerCUDA
import Testing
@testable import ListConRankerTraining

/// Stage 1 on the GPU (issue 30), on the software CUDA device: the list head's forward and backward
/// through `CUDATrainingBackend` against the CPU trainer's (itself checked against autograd), and
/// 20 steps of `train --device cuda` against the same steps on the CPU.
@Suite(.serialized) struct CUDAListHeadTrainingTests {
    static func batch(seed: UInt64, hidden: Int, lengths: [Int]) throws -> (ListBatch, [Float]) {
        var generator = SeededGenerator(seed: seed)
        let rows = lengths.reduce(0, +)
        let batch = try ListBatch(pooled: (0..<rows * hidden).map { _ in generator.normal() }, hidden: hidden,
                                  listLengths: lengths)
        // A linear loss Σ c_i logit_i: its logit gradients are the c_i.
        return (batch, (0..<batch.passageCount).map { _ in generator.normal() })
    }

    /// Logits within 1e-5 and every gradient within 1e-4 of the CPU's (relative to the tensor's
    /// largest), with and without dropout (the masks are the same Philox draws on both).
    @Test(arguments: [Float(0), 0.2])
    func theHeadsGradientsAreTheCPUs(dropout: Float) throws {
        guard SoftwareCUDADevice.forTest(registering: [CUDATrainingKernelSource.source]) != nil else { return }
        let shape = try ListHeadShape(hidden: 12, width: 16, feedForward: 24, heads: 2, layers: 2)
        let parameters = ListHeadParameters.initialised(shape: shape, seed: 5)
        let network = try ListHeadNetwork(layout: parameters.layout, dropout: dropout)
        let (batch, weights) = try Self.batch(seed: 11, hidden: 12, lengths: [3, 7, 2, 21])

        func run<Backend: TrainingBackend>(_ backend: Backend) throws -> ([Float], ListHeadGradients) {
            let state = try DeviceTrainingState(backend: backend, head: parameters,
                                                headOptimizer: try AdamW(layout: parameters.layout), encoder: nil,
                                                encoderOptimizer: nil, microBatches: .inPlace)
            let logits = try network.forwardAndBackward(batch.lists, pooled: try backend.upload(batch.pooled),
                                                        parameters: state.headParameters, dropoutSeed: 99,
                                                        gradients: state.headGradients, pooledGradients: nil,
                                                        backend: backend, loss: .given(try backend.upload(weights)))
            var gradients = ListHeadGradients(layout: parameters.layout)
            gradients.values = try state.takeGradients().head
            return (try backend.download(logits.pointer, count: logits.count), gradients)
        }
        let (cpuLogits, cpuGradients) = try run(CPUTrainingBackend())
        let (gpuLogits, gpuGradients) = try run(try CUDATrainingBackend(index: 0))
        #expect(maxAbsoluteError(gpuLogits, cpuLogits) <= 1e-5)
        var worst: Float = 0
        for entry in parameters.layout.entries {
            let cpu = try cpuGradients.tensor(entry.name), gpu = try gpuGradients.tensor(entry.name)
            let scale = max(cpu.map { abs($0) }.max() ?? 0, 1e-3)
            worst = max(worst, maxAbsoluteError(gpu, cpu) / scale)
            #expect(maxAbsoluteError(gpu, cpu) / scale <= 1e-4, "\(entry.name): \(maxAbsoluteError(gpu, cpu)) of \(scale)")
        }
        print("dropout \(dropout): logits within \(maxAbsoluteError(gpuLogits, cpuLogits)), gradients within \(worst) of each tensor's largest")
    }

    /// Stage 1 of the tiny model for 20 steps: 4 lists a step in micro-batches of 2, dropout on.
    static func twentyStepConfiguration() -> TrainingConfiguration {
        var c = TrainerTests.configuration()
        c.epochs = 20
        c.batchSize = 4
        c.microBatchSize = 2
        c.dropout = 0.1
        return c
    }

    /// The first 20 steps' losses of stage 1 under `c` on `device`, trained on `data` into
    /// `root/name` (with its feature cache beside it); `profiled`: with `train --profile`'s step
    /// lines in `root/name.jsonl`.
    static func firstTwentyLosses(_ c: TrainingConfiguration, on device: Device, data: URL, in root: URL, name: String,
                                  profiled: Bool = false) throws -> [Float] {
        var run = TrainingRun(start: .model(TrainingFixtures.tinyModel), data: data, output: root.appendingPathComponent(name))
        run.featureCache = root.appendingPathComponent("cache-\(name)")
        run.device = device
        run.stopAfterStep = 20
        if profiled {
            run.log = root.appendingPathComponent("\(name).jsonl")
            run.profilesPhases = true
        }
        return try Trainer(configuration: c, run: run).train().losses
    }

    /// Circle Loss on the device (`circle_loss`, one thread a list, in Double) is the host's
    /// `CircleLoss.evaluate` bit for bit on the software device: each list's loss and every logit's
    /// gradient, over lists of one relevant passage among many, many among few, and logits that
    /// saturate the sigmoid (±40), divided by a step's list count larger than the micro-batch's.
    /// Lists whose rows are not consecutive from 0 are refused, and so are labels a list cannot learn from.
    @Test func circleLossOnTheDeviceIsTheHosts() throws {
        guard SoftwareCUDADevice.forTest(registering: [CUDATrainingKernelSource.source]) != nil else { return }
        var generator = SeededGenerator(seed: 23)
        let lengths = [21, 4, 9, 3, 33]                          // rows a list: its query and its passages
        var logits: [Float] = [], relevant: [Bool] = []
        for (k, length) in lengths.enumerated() {
            let passages = length - 1
            let positives = k == 1 ? passages - 1 : max(1, passages / 5)
            for i in 0..<passages {
                relevant.append(i < positives)
                logits.append(i % 7 == 3 ? (i % 2 == 0 ? 40 : -40) : 3 * generator.normal())
            }
        }
        let loss = try CircleLoss()
        let expected = try loss.evaluate(logits: logits, relevant: relevant, listLengths: lengths, listCount: 12)
        let backend = try CUDATrainingBackend(index: 0)
        let segments = try ListRows(listLengths: lengths, hidden: 1).segments
        let dlogits = try backend.scratch(logits.count), losses = try backend.scratch(lengths.count)
        let deviceLogits = try backend.upload(logits), labels = try backend.upload(relevant.map { $0 ? 1 : 0 })
        try backend.circleLoss(loss, dlogits: dlogits.pointer, losses: losses.pointer, logits: deviceLogits.pointer,
                               relevant: labels.pointer, segments: segments, divisor: 12)
        let gotLosses = try backend.download(losses.pointer, count: lengths.count)
        let gotGradients = try backend.download(dlogits.pointer, count: logits.count)
        #expect(zip(gotLosses, expected.listLosses).filter { $0.0.bitPattern != $0.1.bitPattern }.isEmpty,
                "\(gotLosses) against \(expected.listLosses)")
        #expect(zip(gotGradients, expected.logitGradients).filter { $0.0.bitPattern != $0.1.bitPattern }.count == 0)
        #expect(expected.logitGradients.contains { $0 != 0 } && gotLosses.allSatisfy { $0.isFinite && $0 > 0 })
        #expect(CircleLoss.meanLoss(gotLosses, divisor: 12) == expected.loss)
        // The CPU's seam op is the same function.
        let cpu = CPUTrainingBackend()
        let cpuGradients = cpu.scratch(logits.count), cpuLosses = cpu.scratch(lengths.count)
        let cpuLogits = cpu.upload(logits), cpuLabels = cpu.upload(relevant.map { $0 ? 1 : 0 })
        try cpu.circleLoss(loss, dlogits: cpuGradients.pointer, losses: cpuLosses.pointer, logits: cpuLogits.pointer,
                           relevant: cpuLabels.pointer, segments: segments, divisor: 12)
        #expect(cpuLosses.array == expected.listLosses && cpuGradients.array == expected.logitGradients)
        #expect(throws: TrainingError.self) {
            try backend.circleLoss(loss, dlogits: dlogits.pointer, losses: losses.pointer, logits: dlogits.pointer,
                                   relevant: dlogits.pointer, segments: [1..<3, 3..<5], divisor: 1)
        }
        withExtendedLifetime((deviceLogits, labels, cpuLogits, cpuLabels)) {}
        #expect(throws: TrainingError.self) { try CircleLoss.check(relevant: [true, true], listLengths: [3]) }
        #expect(throws: TrainingError.self) { try CircleLoss.check(relevant: [true, false], listLengths: [4]) }
    }

    /// `train --device cuda`'s first 20 steps on the tiny model (dropout on) against the CPU's, on
    /// the first 12 queries of the fixture dataset (the features of every text are encoded on the
    /// device first, which the software device does slowly).
    @Test func twentyStepsTrackTheCPU() throws {
        guard SoftwareCUDADevice.forTest(registering: [CUDATrainingKernelSource.source]) != nil else { return }
        let root = try TrainerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = try TrainerTests.firstQueries(12, as: root.appendingPathComponent("data.jsonl"))
        let c = Self.twentyStepConfiguration()
        let cpu = try Self.firstTwentyLosses(c, on: .cpu, data: data, in: root, name: "cpu")
        let gpu = try Self.firstTwentyLosses(c, on: .cuda(index: 0), data: data, in: root, name: "gpu")
        #expect(cpu.count == 20 && gpu.count == 20)
        #expect(maxAbsoluteError(gpu, cpu) <= 1e-3, "CPU \(cpu)\nGPU \(gpu)")
        print("20 steps: losses within \(maxAbsoluteError(gpu, cpu)) (first loss \(cpu[0]))")

        // The GPU run's state resumes on the CPU (with the CPU's features), which says that its
        // steps are the GPU's to rounding, not bit for bit.
        var run = TrainingRun(start: .model(TrainingFixtures.tinyModel), data: data, output: root.appendingPathComponent("gpu"))
        run.featureCache = root.appendingPathComponent("cache-cpu")
        run.resume = true
        run.stopAfterStep = 22
        let trainer = try Trainer(configuration: c, run: run)
        let messages = Messages()
        trainer.onMessage = { messages.append($0) }
        #expect(try trainer.train().step == 22)
        #expect(messages.all.contains { $0.contains("trained on GPU") && $0.contains("not bit for bit") }, "\(messages.all)")
    }
}

/// Lines a trainer's `onMessage` reported.
final class Messages: @unchecked Sendable {
    private(set) var all: [String] = []
    func append(_ line: String) { all.append(line) }
}

/// The dropout generator's kernels against their CPU twins, element for element (the optimizer's:
/// DeviceTrainingStateTests).
@Suite(.serialized) struct CUDATrainingKernelParityTests {
    let module: CUDAKernelModule?

    init() throws {
        module = SoftwareCUDADevice.forTest(registering: [CUDATrainingKernelSource.source]) == nil ? nil
            : try CUDATrainingBackend(index: 0).module
    }

    /// A launch past a kernel's largest block is refused before it reaches the driver, on the
    /// software device as on a GPU, whose registers would fail it with a bare error.
    @Test func aBlockPastTheKernelsLimitIsRefused() throws {
        guard let module else { return }
        let out = try CUDAFloatArray(zeros: 1, on: module.device)
        let arguments: [KernelArgument] = [.int64(0), .int64(0), .int64(0), .int64(1), .address(out.address)]
        #expect(throws: CUDAError("kernel philox_uniform takes blocks of at most 256 threads, not 512")) {
            try module.launch("philox_uniform", grid: (1, 1, 1), block: 512, arguments)
        }
        try module.launch("philox_uniform", grid: (1, 1, 1), block: 256, arguments)
        #expect(try module.device.download(out.address, count: 1) == [Philox.unit(seed: 0, stream: 0, element: 0)])
    }

    /// `philox_uniform` gives ``Philox/unit(seed:stream:element:)`` bit for bit, across a block
    /// boundary and past 2³² elements; `dropout_mask` gives the CPU's mask, and so does a byte mask's
    /// product (`dropout_keep`, `multiply_by_dropout_mask`).
    @Test func theGeneratorIsTheCPUs() throws {
        guard let module else { return }
        let device = module.device
        for (seed, stream, first) in [(UInt64(0), UInt64(0), UInt64(0)), (42, 3, 5), (0xDEAD_BEEF_0123, 1 << 40, 1 << 33)] {
            let out = try CUDAFloatArray(zeros: 9, on: device)
            try module.launch("philox_uniform", elements: 9, [.int64(Int(bitPattern: UInt(seed))),
                              .int64(Int(bitPattern: UInt(stream))), .int64(Int(first)), .int64(9), .address(out.address)])
            let gpu = try device.download(out.address, count: 9)
            #expect(gpu == (0..<9).map { Philox.unit(seed: seed, stream: stream, element: first + UInt64($0)) })
        }
        let count = 1_003
        let mask = try CUDAFloatArray(zeros: count, on: device)
        try module.launch("dropout_mask", elements: count, [.int64(99), .int64(2), .int64(count), .float(0.25), .address(mask.address)])
        var cpu = [Float](repeating: 0, count: count)
        cpu.withUnsafeMutableBufferPointer { Philox.dropoutMask($0.baseAddress!, count: count, probability: 0.25, seed: 99, stream: 2) }
        #expect(try device.download(mask.address, count: count) == cpu)

        // The masks the trainer keeps are bytes (`dropout_keep`): multiplied into a tensor, the same values.
        let backend = try CUDATrainingBackend(index: 0)
        let bytes = try backend.dropoutMask(count, probability: 0.25)
        #expect(bytes.array.count == (count + 3) / 4, "a byte an element")
        try backend.drawDropoutMask(bytes.pointer, count: count, probability: 0.25, seed: 99, stream: 2)
        let values = (0..<count).map { Float($0) - 500.5 }
        let x = try backend.upload(values)
        try backend.multiply(x.pointer, by: bytes.pointer, count: count)
        #expect(try backend.download(x.pointer, count: count) == zip(values, cpu).map { $0 * $1 })
        // A thread draws four bytes and stores them at once where they are aligned, byte by byte where
        // not: a mask one byte into the buffer is the same mask.
        let shorter = count - 3
        var cpuShorter = [Float](repeating: 0, count: shorter)
        cpuShorter.withUnsafeMutableBufferPointer {
            Philox.dropoutMask($0.baseAddress!, count: shorter, probability: 0.25, seed: 7, stream: 5)
        }
        try backend.drawDropoutMask(bytes.pointer + 1, count: shorter, probability: 0.25, seed: 7, stream: 5)
        let y = try backend.upload(values)
        try backend.multiply(y.pointer, by: bytes.pointer + 1, count: shorter)
        #expect(try backend.download(y.pointer, count: shorter) == zip(values, cpuShorter).map { $0 * $1 })
        #expect(throws: TrainingError.self) {
            try backend.drawDropoutMask(bytes.pointer, count: count, probability: 0.1, seed: 99, stream: 2)
        }
        #expect(throws: TrainingError.self) { try backend.geluForward(y: x.pointer, x: bytes.pointer, count: 4) }
    }

    /// Column sums over many rows run in chunks of rows (a bias's, LayerNorm's γ and β): several
    /// chunks add up to the rows' sum, added to what the output held; no chunk count passes a
    /// grid's second dimension.
    @Test func columnSumsSpreadOverChunks() throws {
        guard module != nil else { return }
        let backend = try CUDATrainingBackend(index: 0)
        let (rows, width) = (1_000, 37)
        #expect(CUDATrainingBackend.rowChunks(rows).count == 8)
        var generator = SeededGenerator(seed: 4)
        let x = (0..<rows * width).map { _ in generator.normal() }
        let start = (0..<width).map { _ in generator.normal() }
        let input = try backend.upload(x), output = try backend.upload(start)
        try backend.columnSums(input.pointer, rows: rows, width: width, into: output.pointer)
        let sums = try backend.download(output.pointer, count: width)
        for j in 0..<width {
            let exact = (0..<rows).reduce(Double(start[j])) { $0 + Double(x[$1 * width + j]) }
            #expect(abs(Double(sums[j]) - exact) <= 1e-5 * max(1, abs(exact)), "column \(j): \(sums[j]) against \(exact)")
        }
        for huge in [65_535 * 128, 65_535 * 128 + 1, 10_000_000_000 / 128] {
            let (chunk, count) = CUDATrainingBackend.rowChunks(huge)
            #expect(count <= 65_535 && chunk * count >= huge && chunk * (count - 1) < huge)
        }
    }

    /// LayerNorm's backward (one kernel for the input gradient and γ's and β's chunk sums, a block per
    /// 16 rows) gives the CPU's, written or added, γ and β added to what they held: over several chunks
    /// and a last partial one, at widths under a warp, over its threads (several columns a thread) and
    /// over 4,096 (the wide kernel). With a dropout mask it also writes the masked branch gradient, the
    /// CPU's multiply after it (a bf16 operand in bf16 mode: the rounding of the Float32 one, as the
    /// multiply writes it). A row too wide for one block is refused.
    @Test func layerNormBackwardIsTheCPUs() throws {
        guard module != nil else { return }
        let cpu = CPUTrainingBackend()
        let backends = [try CUDATrainingBackend(index: 0), try CUDATrainingBackend(index: 0, productPrecision: .bf16)]
        var generator = SeededGenerator(seed: 9)
        for (rows, width) in [(37, 33), (50, 300), (20, 5_000)] {
            let count = rows * width
            let x = (0..<count).map { _ in 2 * generator.normal() + 0.5 }, dy = (0..<count).map { _ in generator.normal() }
            let gamma = (0..<width).map { _ in 1 + 0.3 * generator.normal() }, beta = (0..<width).map { _ in generator.normal() }
            let held = (0..<count).map { _ in generator.normal() }, start = (0..<width).map { _ in generator.normal() }
            // The CPU's statistics, given to both.
            let (cx, cgamma, cbeta) = (cpu.upload(x), cpu.upload(gamma), cpu.upload(beta))
            let (cy, cmean, crstd) = (cpu.scratch(count), cpu.scratch(rows), cpu.scratch(rows))
            cpu.layerNormForward(y: cy.pointer, mean: cmean.pointer, rstd: crstd.pointer, x: cx.pointer,
                                 gamma: cgamma.pointer, beta: cbeta.pointer, rows: rows, width: width, eps: 1e-12)
            let (mean, rstd) = (cpu.download(cmean.pointer, count: rows), cpu.download(crstd.pointer, count: rows))
            // dx, dγ, dβ, and with `masked` the branch gradient (and on a GPU its bits as stored).
            func run<Backend: TrainingBackend>(_ b: Backend, _ write: GradientWrite, masked: Bool) throws
                -> (values: [[Float]], branch: Backend.Buffer?) {
                let (dx, dgamma, dbeta) = (try b.upload(held), try b.upload(start), try b.upload(start))
                let inputs = (try b.upload(dy), try b.upload(x), try b.upload(mean), try b.upload(rstd), try b.upload(gamma))
                var branch: Backend.Buffer?
                if masked {
                    let mask = try b.dropoutMask(count, probability: 0.3)
                    try b.drawDropoutMask(mask.pointer, count: count, probability: 0.3, seed: 5, stream: 1)
                    let into = try b.productOperand(count)
                    try b.layerNormBackward(dx: dx.pointer, maskedBy: mask.pointer, into: into.pointer,
                                            dgamma: dgamma.pointer, dbeta: dbeta.pointer, dy: inputs.0.pointer,
                                            x: inputs.1.pointer, mean: inputs.2.pointer, rstd: inputs.3.pointer,
                                            gamma: inputs.4.pointer, rows: rows, width: width)
                    branch = into
                } else {
                    try b.layerNormBackward(dx: dx.pointer, dxWrite: write, dgamma: dgamma.pointer, dbeta: dbeta.pointer,
                                            dy: inputs.0.pointer, x: inputs.1.pointer, mean: inputs.2.pointer,
                                            rstd: inputs.3.pointer, gamma: inputs.4.pointer, rows: rows, width: width)
                }
                return (try [dx, dgamma, dbeta].map { try b.download($0.pointer, count: $0.count) }, branch)
            }
            for (write, masked) in [(GradientWrite.replace, false), (.add, false), (.replace, true)] {
                let expected = try run(cpu, write, masked: masked)
                for gpu in backends {
                    let got = try run(gpu, write, masked: masked)
                    for (k, name) in ["dx", "dgamma", "dbeta"].enumerated() {
                        let (e, g) = (expected.values[k], got.values[k])
                        let largest = e.map { abs($0) }.max() ?? 1
                        let worst = zip(e, g).map { abs($0 - $1) }.max() ?? 0
                        #expect(worst <= 1e-5 * largest, "\(rows) × \(width), \(write), masked \(masked), \(name): \(worst)")
                    }
                    guard masked, let branch = got.branch else { continue }
                    // The branch is the GPU's own dx times the mask's values, stored as its type stores it.
                    let mask = cpu.dropoutMask(count, probability: 0.3)
                    cpu.drawDropoutMask(mask.pointer, count: count, probability: 0.3, seed: 5, stream: 1)
                    let product = zip(got.values[0], cpu.download(mask.pointer, count: count)).map { $0 * $1 }
                    let label = "\(rows) × \(width), \(gpu.productPrecision)"
                    if branch.element == .bfloat16 {
                        let stored = try CUDATrainingKernelParityBF16Tests.download(branch.pointer.address, count: count,
                                                                                    device: gpu.device)
                        #expect(stored == product.map { CUDATrainingKernelParityBF16Tests.reference($0) ?? 0 }, "\(label)")
                    } else {
                        #expect(try gpu.download(branch.pointer, count: count) == product, "\(label)")
                    }
                }
            }
        }
        let gpu = backends[0], wide = 16 * 1024 + 1
        let buffers = try (0..<3).map { _ in try gpu.zeros(wide) }
        #expect(throws: TrainingError.self) {
            try gpu.layerNormBackward(dx: buffers[0].pointer, dxWrite: .replace, dgamma: buffers[1].pointer,
                                      dbeta: buffers[2].pointer, dy: buffers[0].pointer, x: buffers[1].pointer,
                                      mean: buffers[2].pointer, rstd: buffers[2].pointer, gamma: buffers[1].pointer,
                                      rows: 1, width: wide)
        }
    }

    /// Products on pointers into the middle of buffers, a float or a few off cuBLASLt's default
    /// 256-byte alignment (a tensor of a flat parameter buffer, half of the score head's weight): the
    /// software cuBLASLt runs an algorithm only on the alignment it was chosen for, so these run
    /// because the backend states each pointer's, and give what the same product on aligned copies
    /// gives, bit for bit, in both precisions. A bias under 16-byte alignment, which the epilogue is
    /// not given, is added after the product with the same single rounding.
    @Test func productsRunOnPointersAtAnyAlignment() throws {
        guard module != nil else { return }
        let (rows, inFeatures, outFeatures) = (19, 12, 10)
        var generator = SeededGenerator(seed: 6)
        let x = (0..<rows * inFeatures).map { _ in generator.normal() }
        let w = (0..<outFeatures * inFeatures).map { _ in generator.normal() }
        let b = (0..<outFeatures).map { _ in generator.normal() }
        let dy = (0..<rows * outFeatures).map { _ in generator.normal() }
        for precision in [CUDATrainingBackend.ProductPrecision.fp32, .bf16] {
            let backend = try CUDATrainingBackend(index: 0, productPrecision: precision)
            /// The forward and both gradients, every operand `shift` elements into its buffer.
            func run(shift: Int) throws -> [[Float]] {
                func placed(_ values: [Float]) throws -> CUDATrainingBackend.Buffer {
                    try backend.upload([Float](repeating: 0, count: shift) + values)
                }
                let parameters = try backend.parameters(shift + w.count + b.count)
                try backend.upload(w + b, to: parameters.pointer + shift)
                let (input, gradient) = (try placed(x), try placed(dy))
                let (y, dx, dw, db) = (try placed([Float](repeating: 0, count: rows * outFeatures)),
                                       try placed([Float](repeating: 0, count: rows * inFeatures)),
                                       try placed([Float](repeating: 0, count: w.count)),
                                       try placed([Float](repeating: 0, count: b.count)))
                let weight = parameters.pointer + shift, bias = parameters.pointer + (shift + w.count)
                try backend.linearForward(y: y.pointer + shift, x: input.pointer + shift, w: weight, b: bias, rows: rows,
                                          inFeatures: inFeatures, outFeatures: outFeatures)
                try backend.linearBackward(dx: dx.pointer + shift, dw: dw.pointer + shift, db: db.pointer + shift,
                                           dy: gradient.pointer + shift, x: input.pointer + shift, w: weight, rows: rows,
                                           inFeatures: inFeatures, outFeatures: outFeatures)
                return try [(y, rows * outFeatures), (dx, rows * inFeatures), (dw, w.count), (db, b.count)].map {
                    try backend.download($0.0.pointer + shift, count: $0.1)
                }
            }
            let aligned = try run(shift: 0)
            #expect(aligned[0].contains { $0 != 0 } && aligned[2].contains { $0 != 0 })
            for shift in [1, 2, 3, 5] {
                #expect(try run(shift: shift) == aligned, "\(precision), \(shift) elements in")
            }
        }
    }
}
