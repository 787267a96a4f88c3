import CUDAEmulation
import ListConRankerCUDA
import Testing
@testable import ListConRankerTraining

/// The step's tail on a device (issue 30): `DeviceTrainingState` — micro-batches' gradients summed
/// in Double, one clipping norm over the head and the encoder, AdamW in one launch per part — on
/// the CPU backend and on the software CUDA device, against the host's double sum (``GradientSum``),
/// ``GradientClipping`` and ``AdamW``: the same parameters and moments, bit for bit.
@Suite(.serialized) struct DeviceTrainingStateTests {
    /// Three steps, of three, three and one micro-batches; the gradients' scale makes the first two
    /// steps clip (global norm well over 1) and the last one not.
    static let scales: [Float] = [1, 0.5, 1e-4]
    static let rates: [Float] = [1e-3, 2e-3, 5e-4]
    static let maxNorm: Float = 1

    struct Start {
        let head: ListHeadParameters
        let encoder: EncoderParameters
        let headOptimizer: AdamW
        let encoderOptimizer: AdamW
        /// Each step's micro-batches' gradients: (head, encoder).
        let gradients: [[([Float], [Float])]]

        init() throws {
            head = ListHeadParameters.initialised(shape: try ListHeadShape(hidden: 32, width: 16, feedForward: 24, heads: 2,
                                                                            layers: 1), seed: 5)
            encoder = try EncoderParameters.load(modelDirectory: TrainingFixtures.tinyModel).parameters
            headOptimizer = try AdamW(layout: head.layout, weightDecay: 0.05)
            encoderOptimizer = try AdamW(entries: encoder.layout.entries, count: encoder.layout.count, weightDecay: 0.05)
            var generator = SeededGenerator(seed: 21)
            let (headCount, encoderCount) = (head.values.count, encoder.values.count)
            gradients = DeviceTrainingStateTests.scales.enumerated().map { step, scale in
                (0..<(step < 2 ? 3 : 1)).map { _ in
                    ((0..<headCount).map { _ in generator.normal() * scale * 0.05 },
                     (0..<encoderCount).map { _ in generator.normal() * scale * 0.01 })
                }
            }
        }
    }

    struct End: Equatable {
        var head: [Float], encoder: [Float]
        var firstMoments: [Float], secondMoments: [Float]
        var norms: [Float]
    }

    /// The host's steps, as the CPU trainer takes them.
    static func onTheHost(_ start: Start) throws -> End {
        var head = start.head, encoder = start.encoder
        var headOptimizer = start.headOptimizer, encoderOptimizer = start.encoderOptimizer
        var norms: [Float] = []
        for (step, micro) in start.gradients.enumerated() {
            var headSums = [Double](repeating: 0, count: head.values.count)
            var encoderSums = [Double](repeating: 0, count: encoder.values.count)
            for (h, e) in micro {
                for i in h.indices { headSums[i] += Double(h[i]) }
                for i in e.indices { encoderSums[i] += Double(e[i]) }
            }
            var headGradients = ListHeadGradients(layout: head.layout)
            var encoderGradients = EncoderGradients(layout: encoder.layout)
            headGradients.values = headSums.map { Float($0) }
            encoderGradients.values = encoderSums.map { Float($0) }
            norms.append(try GradientClipping.clip(&headGradients, &encoderGradients, maxNorm: maxNorm))
            try headOptimizer.update(&head, gradients: headGradients, learningRate: rates[step])
            try encoderOptimizer.update(values: &encoder.values, gradients: encoderGradients.values,
                                        learningRate: rates[step])
        }
        return End(head: head.values, encoder: encoder.values,
                   firstMoments: headOptimizer.firstMoments + encoderOptimizer.firstMoments,
                   secondMoments: headOptimizer.secondMoments + encoderOptimizer.secondMoments, norms: norms)
    }

    /// The same steps on `backend`'s device; `marksLast`: the trainer says which micro-batch is a step's
    /// last (added to the sums as they are rounded), or it does not (every one summed as it ends).
    static func onTheDevice<Backend: TrainingBackend>(_ start: Start, _ backend: Backend, marksLast: Bool = true) throws
        -> End {
        var headOptimizer = start.headOptimizer, encoderOptimizer = start.encoderOptimizer
        let state = try DeviceTrainingState(backend: backend, head: start.head, headOptimizer: headOptimizer,
                                            encoder: start.encoder, encoderOptimizer: encoderOptimizer,
                                            microBatches: .inDouble)
        var norms: [Float] = []
        for (step, micro) in start.gradients.enumerated() {
            try state.beginStep()
            for (index, (h, e)) in micro.enumerated() {
                try state.replaceGradients(head: h, encoder: e)
                try state.endMicroBatch(last: marksLast && index == micro.count - 1)
            }
            norms.append(try state.clip(maxNorm: maxNorm))
            try state.update(head: try headOptimizer.beginStep(learningRate: rates[step]),
                             encoder: try encoderOptimizer.beginStep(learningRate: rates[step]))
        }
        let values = try state.downloadParameters(), (first, second) = try state.downloadMoments()
        return End(head: values.head, encoder: values.encoder, firstMoments: first.head + first.encoder,
                   secondMoments: second.head + second.encoder, norms: norms)
    }

    @Test func theCPUBackendsStepIsTheHosts() throws {
        let start = try Start()
        let host = try Self.onTheHost(start)
        #expect(host.norms[0] > 2 * Self.maxNorm && host.norms[1] > Self.maxNorm && host.norms[2] < Self.maxNorm,
                "\(host.norms)")
        #expect(host.head != start.head.values && host.encoder != start.encoder.values)
        // Both kinds of tensor in each part: some decay, some do not.
        for optimizer in [start.headOptimizer, start.encoderOptimizer] {
            let decaying = optimizer.decayingRanges.reduce(0) { $0 + $1.count }
            #expect(decaying > 0 && decaying < optimizer.parameterCount)
        }
        #expect(try Self.onTheDevice(start, CPUTrainingBackend()) == host)
        #expect(try Self.onTheDevice(start, CPUTrainingBackend(), marksLast: false) == host)
    }

    /// The encoder's part starts on a 512-byte boundary of every buffer (its bf16 copy on 256), past the
    /// head's odd count; a bucket of gradients that spans the head's end and the encoder's start reads
    /// across the gap as if there were none, and every part reads back what was put there.
    @Test func theEncoderStartsAligned() throws {
        let start = try Start()
        #expect(start.head.values.count % 128 != 0, "the head ends off a boundary")
        let (h, e) = start.gradients[0][0]
        func check<Backend: TrainingBackend>(_ backend: Backend) throws -> DeviceTrainingState<Backend> {
            let state = try DeviceTrainingState(backend: backend, head: start.head, headOptimizer: start.headOptimizer,
                                                encoder: start.encoder, encoderOptimizer: start.encoderOptimizer,
                                                microBatches: .inPlace)
            #expect(state.encoderOffset % 128 == 0 && state.encoderOffset >= state.headCount
                    && state.encoderOffset < state.headCount + 128)
            try state.replaceGradients(head: h, encoder: e)
            let flat = h + e
            for range in [0..<5, h.count - 3..<h.count + 4, h.count..<h.count + 9, 0..<flat.count] {
                #expect(try state.downloadGradients(range) == Array(flat[range]), "\(range)")
            }
            #expect(throws: TrainingError.self) { try state.downloadGradients(0..<flat.count + 1) }
            let values = try state.downloadParameters()
            #expect(values.head == start.head.values && values.encoder == start.encoder.values)
            return state
        }
        _ = try check(CPUTrainingBackend())
        guard SoftwareCUDADevice.forTest(registering: [CUDATrainingKernelSource.source]) != nil else { return }
        let state = try check(try CUDATrainingBackend(index: 0, productPrecision: .bf16))
        #expect(state.encoderParameters.address % 512 == 0 && state.encoderGradients.address % 512 == 0)
        #expect(state.encoderParameters.copy % 256 == 0)
    }

    /// A micro-batch after the one said to be the step's last is refused, not summed twice or lost.
    @Test func aMicroBatchAfterTheLastIsRefused() throws {
        let start = try Start()
        let state = try DeviceTrainingState(backend: CPUTrainingBackend(), head: start.head,
                                            headOptimizer: start.headOptimizer, encoder: start.encoder,
                                            encoderOptimizer: start.encoderOptimizer, microBatches: .inDouble)
        try state.beginStep()
        try state.endMicroBatch(last: true)
        #expect(throws: TrainingError.self) { try state.endMicroBatch() }
        try state.beginStep()
        try state.endMicroBatch()
    }

    /// The kernels round every operation as the CPU does (no fused multiply-adds), and the norm's
    /// block sums in Double agree to far below a Float's rounding: the device's run is the host's.
    @Test func theGPUsStepIsTheHosts() throws {
        guard SoftwareCUDADevice.forTest(registering: [CUDATrainingKernelSource.source]) != nil else { return }
        let start = try Start()
        let host = try Self.onTheHost(start)
        #expect(try Self.onTheDevice(start, try CUDATrainingBackend(index: 0)) == host)
        #expect(try Self.onTheDevice(start, try CUDATrainingBackend(index: 0), marksLast: false) == host)
    }

    /// Each block's Σ g² in Double, as GradientClipping's, across a block boundary and a short last block.
    @Test func squaredSumBlocksAreTheCPUs() throws {
        guard SoftwareCUDADevice.forTest(registering: [CUDATrainingKernelSource.source]) != nil else { return }
        var generator = SeededGenerator(seed: 8)
        let values = (0..<2 * GradientClipping.block + 1_234).map { _ in generator.normal() }
        let backend = try CUDATrainingBackend(index: 0)
        let uploaded = try backend.upload(values)
        let gpu = try withExtendedLifetime(uploaded) { try backend.squaredSumBlocks(uploaded.pointer, count: values.count) }
        let cpu = values.withUnsafeBufferPointer { GradientClipping.squaredSumBlocks($0) }
        #expect(gpu.count == 3 && cpu.count == 3)
        for (g, c) in zip(gpu, cpu) { #expect(abs(g - c) <= 1e-12 * c, "\(g) against \(c)") }
    }
}
