import Foundation
import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer
import ListConRankerKernelReference

/// Deterministic pseudo-random values in [-1, 1) for kernel tests.
struct SeededValues {
    private var bits: SplitMix64
    init(seed: UInt64) { bits = SplitMix64(seed: seed) }
    mutating func next() -> Float {
        Float(Double(bits.next() >> 11) / Double(1 << 53)) * 2 - 1
    }
    mutating func tensor(_ shape: [Int], scale: Float = 1) -> Tensor {
        Tensor(shape: shape, scalars: (0..<Tensor.elementCount(shape)).map { _ in next() * scale })
    }
}

/// Naive double-precision references, independent of the C kernels.
enum Naive {
    static func matmul(_ a: Tensor, _ b: Tensor, transposeB: Bool) -> [Double] {
        let (m, k) = (a.shape[0], a.shape[1])
        let n = transposeB ? b.shape[0] : b.shape[1]
        let av = a.scalars, bv = b.scalars
        var out = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var s = 0.0
            for p in 0..<k { s += Double(av[i * k + p]) * Double(transposeB ? bv[j * k + p] : bv[p * n + j]) }
            out[i * n + j] = s
        } }
        return out
    }
    static func gelu(_ x: Double) -> Double { 0.5 * x * (1 + erf(x / 2.0.squareRoot())) }
}

func maxAbsDifference(_ a: [Float], _ b: [Double]) -> Double {
    zip(a, b).map { abs(Double($0) - $1) }.max() ?? 0
}

@Suite struct KernelTests {
    @Test func geluMatchesDoublePrecisionWithin1e6() {
        let xs = stride(from: -12.0, through: 12.0, by: 0.001).map { Float($0) }
        let out = ReferenceKernels.gelu(Tensor(shape: [xs.count], scalars: xs)).scalars
        let err = maxAbsDifference(out, xs.map { Naive.gelu(Double($0)) })
        #expect(err <= 1e-6, "max GELU error \(err)")
    }

    @Test func fusedGELUInsideTheMatrixProductMatchesDoublePrecision() throws {
        // Identity weights: the product passes x through, so the output is oneDNN's GELU alone.
        let xs = stride(from: -8.0, through: 8.0, by: 0.01).map { Float($0) }
        let n = 4
        let rows = xs.count / n
        let x = Tensor(shape: [rows, n], scalars: Array(xs.prefix(rows * n)))
        var eye = [Float](repeating: 0, count: n * n)
        for i in 0..<n { eye[i * n + i] = 1 }
        let layer = try Linear(weight: Tensor(shape: [n, n], scalars: eye), bias: nil, fuseGELU: true)
        let out = try layer(x).scalars
        let err = maxAbsDifference(out, x.scalars.map { Naive.gelu(Double($0)) })
        #expect(err <= 1e-6, "max fused GELU error \(err)")
    }

    @Test func linearMatchesNaiveProductInBothPrecisions() throws {
        var rng = SeededValues(seed: 1)
        let x = rng.tensor([37, 64]), w = rng.tensor([48, 64]), b = rng.tensor([48])
        var expected = Naive.matmul(x, w, transposeB: true)
        for i in 0..<37 { for j in 0..<48 { expected[i * 48 + j] += Double(b.scalars[j]) } }
        let fp32 = try Linear(weight: w, bias: b, precision: .fp32)(x).scalars
        #expect(maxAbsDifference(fp32, expected) < 1e-5)
        // bf16 rounds inputs to 8 bits of mantissa: |error| ≲ K·2·2^-9·|x||w| ≈ 0.25 at worst, far less typically.
        if Precision.bfloat16ProductsAvailable {
            let bf16 = try Linear(weight: w, bias: b, precision: .bf16)(x).scalars
            let bf16Err = maxAbsDifference(bf16, expected)
            #expect(bf16Err < 0.05 && bf16Err > 0, "bf16 error \(bf16Err)")
        } else {
            #expect { try Linear(weight: w, bias: b, precision: .bf16) } throws: { error in
                "\(error)".contains("bf16 matrix products need a CPU with AVX-512")
            }
        }
        // Same layer, different row counts: M is a run-time dimension.
        let layer = try Linear(weight: w, bias: b)
        let one = try layer(Tensor(shape: [1, 64], scalars: Array(x.scalars.prefix(64)))).scalars
        #expect(maxAbsDifference(one, Array(expected.prefix(48))) < 1e-5)
    }

    /// bf16 products that narrow (input wider than output) run on oneDNN's gemm, the others on
    /// oneDNN's first choice (BENCHMARKS.md, "Which oneDNN implementation"); both are right.
    @Test(.enabled(if: Precision.bfloat16ProductsAvailable, "this CPU has no AVX-512: oneDNN runs no bf16 product"))
    func bf16ProductsOnEitherOneDNNImplementationMatchNaive() throws {
        var rng = SeededValues(seed: 9)
        let wide = rng.tensor([37, 96]), narrow = rng.tensor([37, 64])
        let narrowingWeight = rng.tensor([64, 96]), wideningWeight = rng.tensor([96, 64])
        let narrowing = try Linear(weight: narrowingWeight, bias: nil, precision: .bf16)
        let widening = try Linear(weight: wideningWeight, bias: nil, precision: .bf16)
        for (layer, weight, x) in [(narrowing, narrowingWeight, wide), (widening, wideningWeight, narrow)] {
            let error = maxAbsDifference(try layer(x).scalars, Naive.matmul(x, weight, transposeB: true))
            #expect(error < 0.05 && error > 0, "bf16 [\(layer.outFeatures), \(layer.inFeatures)] error \(error)")
        }
        if Precision.nativeBFloat16Available {
            #expect(try narrowing.implementation(rows: 37) == "gemm:jit")
            #expect(try widening.implementation(rows: 37) != "gemm:jit")
            #expect(try Linear(weight: rng.tensor([64, 96]), bias: nil, precision: .fp32).implementation(rows: 37) != "gemm:jit")
        }
        #expect(throws: ComputeError.self) { try narrowing.implementation(rows: 0) }
    }

    @Test(.enabled(if: Precision.bfloat16ProductsAvailable, "this CPU has no AVX-512: oneDNN runs no bf16 product"))
    func bf16OutputIsTheRoundedFloatOutputAndFeedsTheNextProduct() throws {
        var rng = SeededValues(seed: 5)
        let x = rng.tensor([33, 64]), w = rng.tensor([40, 64]), b = rng.tensor([40]), w2 = rng.tensor([8, 40])
        let floats = try Linear(weight: w, bias: b, precision: .bf16, fuseGELU: true)(x)
        let bits = try Linear(weight: w, bias: b, precision: .bf16, fuseGELU: true, bf16Output: true)(x)
        #expect(bits.dtype == .bfloat16)
        #expect(bits.withBFloat16Bits(Array.init) == floats.scalars.map(BFloat16.bits))
        // The next bf16 product gives the same result from bf16 storage as from the rounded floats.
        let next = try Linear(weight: w2, bias: nil, precision: .bf16)
        #expect(try next(bits).scalars == next(bits.toFloat32()).scalars)
        #expect(throws: ComputeError.self) { try Linear(weight: w, bias: b, precision: .fp32, bf16Output: true) }
    }

    @Test func matmulAndBatchedMatmulMatchNaive() throws {
        var rng = SeededValues(seed: 2)
        let a = rng.tensor([5, 7]), b = rng.tensor([7, 3]), bt = rng.tensor([3, 7])
        #expect(maxAbsDifference(try ReferenceKernels.matmul(a, b).scalars, Naive.matmul(a, b, transposeB: false)) < 1e-5)
        #expect(maxAbsDifference(try ReferenceKernels.matmul(a, bt, transposeB: true).scalars, Naive.matmul(a, bt, transposeB: true)) < 1e-5)
        let ba = rng.tensor([3, 4, 6]), bb = rng.tensor([3, 6, 5])
        let out = try ReferenceKernels.batchedMatmul(ba, bb).scalars
        for i in 0..<3 {
            let ai = Tensor(shape: [4, 6], scalars: Array(ba.scalars[i * 24..<(i + 1) * 24]))
            let bi = Tensor(shape: [6, 5], scalars: Array(bb.scalars[i * 30..<(i + 1) * 30]))
            #expect(maxAbsDifference(Array(out[i * 20..<(i + 1) * 20]), Naive.matmul(ai, bi, transposeB: false)) < 1e-5)
        }
        #expect(throws: ComputeError.self) { try ReferenceKernels.matmul(a, a) }
    }

    @Test func layerNormMatchesNaive() throws {
        var rng = SeededValues(seed: 3)
        let x = rng.tensor([6, 50], scale: 3), r = rng.tensor([6, 50]), g = rng.tensor([50]), b = rng.tensor([50])
        let out = try Kernels.layerNorm(x, residual: r, gamma: g, beta: b, eps: 1e-5).scalars
        var expected = [Double]()
        for row in 0..<6 {
            let v = (0..<50).map { Double(x.scalars[row * 50 + $0]) + Double(r.scalars[row * 50 + $0]) }
            let mean = v.reduce(0, +) / 50
            let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 50
            expected += (0..<50).map { (v[$0] - mean) / (variance + 1e-5).squareRoot() * Double(g.scalars[$0]) + Double(b.scalars[$0]) }
        }
        #expect(maxAbsDifference(out, expected) < 1e-5)
    }

    @Test func layerNormOverManyRowsMatchesNaiveAndRoundsItsCopyLikeToBFloat16() throws {
        // Enough rows to be split over the cores; the copy is the result rounded to nearest even.
        var rng = SeededValues(seed: 5)
        let rows = 700, cols = 384
        let x = rng.tensor([rows, cols], scale: 4), r = rng.tensor([rows, cols]), g = rng.tensor([cols]), b = rng.tensor([cols])
        let (out, copy) = try Kernels.layerNormWithBFloat16Copy(x, residual: r, gamma: g, beta: b, eps: 1e-12)
        var expected = [Double]()
        for row in 0..<rows {
            let v = (0..<cols).map { Double(x.scalars[row * cols + $0]) + Double(r.scalars[row * cols + $0]) }
            let mean = v.reduce(0, +) / Double(cols)
            let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(cols)
            expected += (0..<cols).map {
                (v[$0] - mean) / (variance + 1e-12).squareRoot() * Double(g.scalars[$0]) + Double(b.scalars[$0])
            }
        }
        #expect(maxAbsDifference(out.scalars, expected) < 1e-5)
        #expect(copy.dtype == .bfloat16 && copy.shape == out.shape)
        let bits = copy.withBFloat16Bits { Array($0) }, rounded = out.toBFloat16().withBFloat16Bits { Array($0) }
        #expect(bits == rounded)
    }

    @Test func maskedSoftmaxAndAttentionMatchNaive() throws {
        var rng = SeededValues(seed: 4)
        let t = 5, heads = 2, dh = 3
        let q = rng.tensor([t, heads * dh]), k = rng.tensor([t, heads * dh]), v = rng.tensor([t, heads * dh])
        // ListAttention's shape: row 0 sees itself only, the others see every key.
        let ranges = [0..<1] + Array(repeating: 0..<t, count: t - 1)
        let out = try ReferenceKernels.attention(q: q, k: k, v: v, heads: heads, keyRanges: ranges).scalars
        var expected = [Double](repeating: 0, count: t * heads * dh)
        for h in 0..<heads { for i in 0..<t {
            let keys = Array(ranges[i])
            let logits = keys.map { j in (0..<dh).map { Double(q.scalars[i * 6 + h * dh + $0]) * Double(k.scalars[j * 6 + h * dh + $0]) }.reduce(0, +) / Double(dh).squareRoot() }
            let mx = logits.max()!
            let e = logits.map { exp($0 - mx) }, s = e.reduce(0, +)
            for (jj, j) in keys.enumerated() { for d in 0..<dh {
                expected[i * 6 + h * dh + d] += e[jj] / s * Double(v.scalars[j * 6 + h * dh + d])
            } }
        } }
        #expect(maxAbsDifference(out, expected) < 1e-5)
        let sm = try ReferenceKernels.softmax(Tensor(shape: [2, 3], scalars: [1, 2, 3, 1, 2, 3]), keyRanges: [0..<3, 1..<2]).scalars
        let e = [exp(1.0), exp(2.0), exp(3.0)], s = e.reduce(0, +)
        #expect(maxAbsDifference(sm, [e[0] / s, e[1] / s, e[2] / s, 0, 1, 0]) < 1e-6)
        #expect(throws: ComputeError.self) { try ReferenceKernels.softmax(Tensor(zeros: [2, 3]), keyRanges: [0..<0, 0..<1]) }
    }

    @Test func maskedMeanPoolsRealRowsOnly() throws {
        let x = Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 100, 100])
        #expect(try ReferenceKernels.maskedMean(x, mask: [true, true, false]).scalars == [2, 3])
        #expect(throws: ComputeError.self) { try ReferenceKernels.maskedMean(x, mask: [false, false, false]) }
        // The library's pooling of packed texts: one mean per segment of rows.
        #expect(try Kernels.segmentMeans(x, segments: [0..<2, 2..<3]).scalars == [2, 3, 100, 100])
        #expect(throws: ComputeError.self) { try Kernels.segmentMeans(x, segments: [1..<1]) }
        #expect(Kernels.relu(Tensor(shape: [2], scalars: [-1, 2])).scalars == [0, 2])
        #expect(abs(Kernels.sigmoid(Tensor(shape: [1], scalars: [0])).scalars[0] - 0.5) < 1e-7)
    }
}

/// The kernels against PyTorch's own operators (tools/reference/make_kernel_goldens.py).
@Suite struct KernelGoldenTests {
    struct Shaped: Decodable { let shape: [Int]; let values: [Float] }
    struct Golden: Decodable {
        let x: Shaped, residual: [Float], gamma: [Float], beta: [Float]
        let weight: Shaped, bias: [Float]
        let gelu: [Float], relu: [Float], sigmoid: [Float]
        let layer_norm_eps_1e_5: [Float]
        let linear: [Float], linear_gelu: [Float]
        let softmax_scores: Shaped, softmax_ranges: [[Int]], softmax: [Float]
        enum CodingKeys: String, CodingKey {
            case x, residual, gamma, beta, weight, bias, gelu, relu, sigmoid
            case layer_norm_eps_1e_5 = "layer_norm_eps_1e-5"
            case linear, linear_gelu, softmax_scores, softmax_ranges, softmax
        }
    }

    let golden: Golden

    init() throws {
        golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: Fixtures.url("kernel-goldens.json")))
    }

    var x: Tensor { Tensor(shape: golden.x.shape, scalars: golden.x.values) }

    @Test func elementwiseKernelsMatchPyTorch() {
        expectClose(ReferenceKernels.gelu(x).scalars, golden.gelu, tolerance: 1e-6, "gelu")
        expectClose(Kernels.relu(x).scalars, golden.relu, tolerance: 0, "relu")
        expectClose(Kernels.sigmoid(x).scalars, golden.sigmoid, tolerance: 1e-6, "sigmoid")
    }

    @Test func layerNormMatchesPyTorch() throws {
        let out = try Kernels.layerNorm(x, residual: Tensor(shape: golden.x.shape, scalars: golden.residual),
                                        gamma: Tensor(shape: [40], scalars: golden.gamma),
                                        beta: Tensor(shape: [40], scalars: golden.beta), eps: 1e-5)
        expectClose(out.scalars, golden.layer_norm_eps_1e_5, tolerance: 1e-5, "layer norm")
    }

    @Test func linearAndFusedGELUMatchPyTorch() throws {
        let w = Tensor(shape: golden.weight.shape, scalars: golden.weight.values)
        let b = Tensor(shape: [golden.bias.count], scalars: golden.bias)
        expectClose(try Linear(weight: w, bias: b)(x).scalars, golden.linear, tolerance: 1e-4, "linear")
        expectClose(try Linear(weight: w, bias: b, fuseGELU: true)(x).scalars, golden.linear_gelu, tolerance: 1e-4,
                    "linear + gelu")
    }

    @Test func maskedSoftmaxMatchesPyTorch() throws {
        let scores = Tensor(shape: golden.softmax_scores.shape, scalars: golden.softmax_scores.values)
        let out = try ReferenceKernels.softmax(scores, keyRanges: golden.softmax_ranges.map { $0[0]..<$0[1] })
        expectClose(out.scalars, golden.softmax, tolerance: 1e-6, "softmax")
    }
}

@Suite struct PackedAttentionTests {
    @Test(arguments: [false, true]) func packedAttentionMatchesPerSegmentAttention(listMask: Bool) throws {
        var rng = SeededValues(seed: 9)
        let width = 12, heads = 3
        let segments = [0..<5, 5..<6, 6..<13]
        let qkv = rng.tensor([13, 3 * width])
        let out = try Kernels.packedSelfAttention(qkv: qkv, width: width, heads: heads, segments: segments,
                                                  firstRowSeesOnlyItself: listMask).scalars
        let all = qkv.scalars
        for segment in segments {
            func part(_ offset: Int) -> Tensor {
                Tensor(shape: [segment.count, width], scalars: segment.flatMap { r in
                    all[(r * 3 * width + offset)..<(r * 3 * width + offset + width)] })
            }
            let t = segment.count
            let ranges = (0..<t).map { listMask && $0 == 0 ? 0..<1 : 0..<t }
            let expected = try ReferenceKernels.attention(q: part(0), k: part(width), v: part(2 * width), heads: heads,
                                                 keyRanges: ranges).scalars
            let got = Array(out[segment.lowerBound * width..<segment.upperBound * width])
            expectClose(got, expected, tolerance: 1e-5, "segment \(segment)")
        }
    }
}

@Suite struct AttentionGroupTests {
    @Test func groupsTakeTheSamePaddedLengthLongestFirst() {
        let segments = [0..<40, 40..<60, 60..<93, 93..<157, 157..<222, 222..<222]
        let groups = Kernels.attentionGroups(segments: segments, heads: 2)
        // Lengths 40, 20, 33, 64, 65 pad to 64, 32, 64, 64, 96; empty segments are left out.
        #expect(groups == [[157..<222], [0..<40, 60..<93, 93..<157], [40..<60]])
        // A group's scores stay within the limit: heads × texts × padded length² ≤ maximumGroupScores.
        let many = (0..<40).map { $0 * 100..<($0 + 1) * 100 }
        let capped = Kernels.attentionGroups(segments: many, heads: 16)
        #expect(capped.allSatisfy { 16 * $0.count * 128 * 128 <= Kernels.maximumGroupScores })
        #expect(capped.map(\.count).reduce(0, +) == 40 && capped.count > 1)
        // A text too long for the limit on its own still gets a group of its own.
        #expect(Kernels.attentionGroups(segments: [0..<512, 512..<1024], heads: 16) == [[0..<512], [512..<1024]])
    }

    static let groupings: [(segments: [Range<Int>], bf16: Bool)] = [
        // Full-length and padded texts in one group, in both precisions.
        ([0..<32, 32..<64, 64..<95, 95..<115, 115..<134], false),
        ([0..<32, 32..<64, 64..<95, 95..<115, 115..<134], true),
        // Only full-length texts: one softmax over the whole batch.
        ([0..<32, 32..<64, 64..<96], true),
    ].filter { !$0.bf16 || Precision.bfloat16ProductsAvailable }   // bf16 needs AVX-512 (oneDNN)

    @Test(arguments: groupings) func aTextsContextIsTheSameInAnyGroup(segments: [Range<Int>], bf16: Bool) throws {
        var rng = SeededValues(seed: 12)
        let width = 16, heads = 2, rows = segments.last!.upperBound
        let qkv32 = rng.tensor([rows, 3 * width]), qkv = bf16 ? qkv32.toBFloat16() : qkv32
        #expect(Kernels.attentionGroups(segments: segments, heads: heads).count == 1)
        let grouped = try Kernels.packedSelfAttention(qkv: qkv, width: width, heads: heads, segments: segments).scalars
        let all = qkv.scalars
        for segment in segments {
            let alone = Tensor(shape: [segment.count, 3 * width],
                               scalars: Array(all[segment.lowerBound * 3 * width..<segment.upperBound * 3 * width]))
            let single = try Kernels.packedSelfAttention(qkv: bf16 ? alone.toBFloat16() : alone, width: width,
                                                         heads: heads, segments: [0..<segment.count]).scalars
            let got = Array(grouped[segment.lowerBound * width..<segment.upperBound * width])
            #expect(got == single, "segment \(segment): grouped and alone differ")
            func part(_ offset: Int) -> Tensor {
                Tensor(shape: [segment.count, width], scalars: segment.flatMap { r in
                    all[(r * 3 * width + offset)..<(r * 3 * width + offset + width)] })
            }
            let exact = try ReferenceKernels.attention(q: part(0), k: part(width), v: part(2 * width), heads: heads).scalars
            expectClose(got, exact, tolerance: bf16 ? 0.03 : 1e-5, "segment \(segment) against the sgemm path")
        }
    }
}

@Suite(.enabled(if: Precision.bfloat16ProductsAvailable, "this CPU has no AVX-512: oneDNN runs no bf16 product"))
struct BFloat16AttentionTests {
    @Test func bf16AttentionStaysCloseToFloat32() throws {
        var rng = SeededValues(seed: 11)
        let width = 16, heads = 4
        let qkv = rng.tensor([20, 3 * width])
        let segments = [0..<7, 7..<20]
        let exact = try Kernels.packedSelfAttention(qkv: qkv, width: width, heads: heads, segments: segments,
                                                    firstRowSeesOnlyItself: true)
        let bf16 = try Kernels.packedSelfAttention(qkv: qkv.toBFloat16(), width: width, heads: heads, segments: segments,
                                                   firstRowSeesOnlyItself: true)
        #expect(bf16.dtype == .bfloat16)
        // Inputs rounded to 8 significant bits, probabilities and outputs too: a few 2^-8 of |v| ≤ 1.
        let worst = zip(bf16.scalars, exact.scalars).map { abs($0 - $1) }.max() ?? 0
        #expect(worst < 0.03 && worst > 0, "bf16 attention differs by \(worst)")
        // The query rows take their own value row exactly (rounded to bf16).
        let values = qkv.toBFloat16().scalars
        for start in [0, 7] {
            #expect(Array(bf16.scalars[start * width..<(start + 1) * width]) ==
                    Array(values[(start * 3 * width + 2 * width)..<(start * 3 * width + 3 * width)]))
        }
    }
}
