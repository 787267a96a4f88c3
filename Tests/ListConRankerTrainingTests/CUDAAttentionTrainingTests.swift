import CUDAEmulation
import ListConRankerCUDA
import Testing
@testable import ListConRankerTraining

/// The GPU trainer's tiled attention kernels (issue 30) on the software CUDA device against the CPU
/// ops they replace (`ListAttentionOps`, `EncoderAttentionOps`, checked against autograd): segments
/// shorter than a tile, exactly one, one row over and several tiles long, heads whose width is and
/// is not a multiple of the register tile's 16 columns (the published list head's 112 among them),
/// with and without a dropout mask.
@Suite(.serialized) struct CUDAAttentionTrainingTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let headWidth: Int
        let heads: Int
        let masked: Bool
        var testDescription: String { "\(heads) heads of \(headWidth)\(masked ? ", dropout mask" : "")" }
    }

    static let cases = [Case(headWidth: 64, heads: 2, masked: false), Case(headWidth: 24, heads: 3, masked: true),
                        Case(headWidth: 112, heads: 1, masked: true)]
    static let lengths = [1, 5, 32, 33, 70]

    /// Probabilities and context within 1e-5, and `dqkv` (added to a non-zero start) within 1e-5, of
    /// each tensor's largest value, for the encoder's attention and the list head's (whose first row
    /// sees only itself).
    @Test(arguments: cases, [false, true])
    func attentionIsTheCPUs(_ c: Case, listHead: Bool) throws {
        guard SoftwareCUDADevice.forTest(registering: [CUDATrainingKernelSource.source]) != nil else { return }
        var segments: [Range<Int>] = [], rows = 0
        for length in Self.lengths {
            segments.append(rows ..< rows + length)
            rows += length
        }
        let width = c.heads * c.headWidth
        let probabilityCount = ListAttentionOps.probabilityCount(segments: segments, heads: c.heads)
        var generator = SeededGenerator(seed: UInt64(c.headWidth * 10 + c.heads))
        let qkv = (0..<rows * 3 * width).map { _ in generator.normal() }
        let dcontext = (0..<rows * width).map { _ in generator.normal() }
        let dqkvStart = (0..<rows * 3 * width).map { _ in generator.normal() }
        // Inverted dropout at p = 0.2: zeros and 1.25s.
        let mask: [Float]? = c.masked ? (0..<probabilityCount).map { _ in generator.unit() < 0.2 ? 0 : 1.25 } : nil

        func run<Backend: TrainingBackend>(_ backend: Backend) throws -> (p: [Float], context: [Float], dqkv: [Float]) {
            let qkvBuffer = try backend.upload(qkv), dcontextBuffer = try backend.upload(dcontext)
            let dqkv = try backend.upload(dqkvStart), maskBuffer = try mask.map { try backend.upload($0) }
            let probabilities = try backend.zeros(probabilityCount), context = try backend.zeros(rows * width)
            if listHead {
                try backend.listAttentionForward(context: context.pointer, probabilities: probabilities.pointer,
                                                 mask: maskBuffer?.pointer, qkv: qkvBuffer.pointer, segments: segments,
                                                 width: width, heads: c.heads)
                try backend.listAttentionBackward(dqkv: dqkv.pointer, dcontext: dcontextBuffer.pointer,
                                                  probabilities: probabilities.pointer, mask: maskBuffer?.pointer,
                                                  qkv: qkvBuffer.pointer, segments: segments, width: width, heads: c.heads)
            } else {
                try backend.encoderAttentionForward(context: context.pointer, probabilities: probabilities.pointer,
                                                    mask: maskBuffer?.pointer, qkv: qkvBuffer.pointer, segments: segments,
                                                    hidden: width, heads: c.heads)
                try backend.encoderAttentionBackward(dqkv: dqkv.pointer, dcontext: dcontextBuffer.pointer,
                                                     probabilities: probabilities.pointer, mask: maskBuffer?.pointer,
                                                     qkv: qkvBuffer.pointer, segments: segments, hidden: width,
                                                     heads: c.heads)
            }
            return (try backend.download(probabilities.pointer, count: probabilityCount),
                    try backend.download(context.pointer, count: rows * width),
                    try backend.download(dqkv.pointer, count: rows * 3 * width))
        }
        let cpu = try run(CPUTrainingBackend()), gpu = try run(try CUDATrainingBackend(index: 0))
        for (name, expected, actual) in [("probabilities", cpu.p, gpu.p), ("context", cpu.context, gpu.context),
                                         ("dqkv", cpu.dqkv, gpu.dqkv)] {
            let scale = expected.map { abs($0) }.max() ?? 0
            #expect(maxAbsoluteError(actual, expected) <= 1e-5 * scale,
                    "\(name): \(maxAbsoluteError(actual, expected)) of \(scale)")
        }
        if listHead {
            // The query row's own probability is 1 and it sees nothing else, in every head.
            var offset = 0
            for segment in segments {
                for _ in 0..<c.heads {
                    #expect(gpu.p[offset] == 1)
                    #expect(gpu.p[offset + 1 ..< offset + segment.count].allSatisfy { $0 == 0 })
                    offset += segment.count * segment.count
                }
            }
        }
    }

    /// Heads wider than the kernels' shared-memory tiles are refused with a message, not run.
    @Test func headsWiderThanTheTilesAreRefused() throws {
        guard SoftwareCUDADevice.forTest(registering: [CUDATrainingKernelSource.source]) != nil else { return }
        let backend = try CUDATrainingBackend(index: 0)
        let width = CUDATrainingKernelSource.maximumAttentionHeadWidth + 16
        let qkv = try backend.zeros(2 * 3 * width), context = try backend.zeros(2 * width)
        let probabilities = try backend.zeros(4)
        #expect(throws: TrainingError.self) {
            try backend.encoderAttentionForward(context: context.pointer, probabilities: probabilities.pointer, mask: nil,
                                                qkv: qkv.pointer, segments: [0 ..< 2], hidden: width, heads: 1)
        }
    }
}
