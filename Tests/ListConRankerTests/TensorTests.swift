import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

@Suite struct TensorStorageTests {
    @Test func bfloat16RoundTripRoundsToNearestEven() {
        #expect(BFloat16.float(BFloat16.bits(1.0)) == 1.0)
        // 1 + 2^-8 lies exactly between two bf16 values: ties go to even (1.0).
        #expect(BFloat16.float(BFloat16.bits(1.00390625)) == 1.0)
        #expect(BFloat16.float(BFloat16.bits(1.01171875)) == 1.015625)
    }

    /// The matrix products read rows fastest from 64-byte boundaries (BENCHMARKS.md, "Alignment"),
    /// so every way a tensor is made must start its elements on one.
    @Test func everyTensorStartsOnA64ByteBoundary() throws {
        func floatsAligned(_ t: Tensor) -> Bool { t.withFloats { Int(bitPattern: $0.baseAddress) % 64 == 0 } }
        func bitsAligned(_ t: Tensor) -> Bool { t.withBFloat16Bits { Int(bitPattern: $0.baseAddress) % 64 == 0 } }
        // Odd sizes, so that a fortunate allocator offset cannot pass by chance every time.
        for count in [1, 3, 17, 1001, 4099] {
            let values = (0..<count).map { Float($0) * 0.5 - 3 }
            let t = Tensor(shape: [count], scalars: values)
            #expect(floatsAligned(t))
            #expect(floatsAligned(Tensor(zeros: [count])))
            #expect(bitsAligned(t.toBFloat16()))
            #expect(floatsAligned(t.toBFloat16().toFloat32()))
            #expect(bitsAligned(Tensor(shape: [count], bfloat16Bits: values.map(BFloat16.bits))))
            var written = t
            written.withMutableFloats { $0[0] = 42 }   // a copy on write must be aligned too
            #expect(floatsAligned(written) && t.scalars[0] != 42 && written.scalars[0] == 42)
        }
        let x = Tensor(shape: [5, 64], scalars: (0..<320).map { Float($0 % 7) - 3 })
        let weight = Tensor(shape: [96, 64], scalars: (0..<(96 * 64)).map { Float($0 % 5) * 0.01 })
        #expect(floatsAligned(try Linear(weight: weight, bias: nil)(x)))
        let ones = Tensor(shape: [64], scalars: Array(repeating: 1, count: 64))
        let (normalized, rounded) = try Kernels.layerNormWithBFloat16Copy(x, gamma: ones, beta: Tensor(zeros: [64]), eps: 1e-5)
        #expect(floatsAligned(normalized) && bitsAligned(rounded))
    }
}
