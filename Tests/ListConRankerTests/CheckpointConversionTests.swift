import Foundation
import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

@Suite struct CheckpointConversionTests {
    @Test func halfToFloatIsExactForEveryBitPattern() {
        for bits in 0...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let actual = ElementConversion.halfToFloat(bits)
            if expected.isNaN {
                #expect(actual.isNaN, "0x\(String(bits, radix: 16))")
            } else {
                #expect(actual.bitPattern == expected.bitPattern, "0x\(String(bits, radix: 16))")
            }
        }
    }

    @Test func floatToBFloat16MatchesTheTensorRounding() {
        var generator = SplitMix64(seed: 7)
        var samples: [UInt32] = [0, 0x8000_0000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0001, 0x3F80_8000,
                                 0x3F81_8000, 0x7F7F_FFFF, 0x0000_0001]
        for _ in 0..<20_000 { samples.append(UInt32(truncatingIfNeeded: generator.next())) }
        for bits in samples {
            let value = Float(bitPattern: bits)
            let converted = ElementConversion.floatToBFloat16(bits)
            if value.isNaN {
                #expect(BFloat16.float(converted).isNaN)
            } else {
                #expect(converted == BFloat16.bits(value), "0x\(String(bits, radix: 16))")
            }
        }
    }

    @Test func stridedAndContiguousConversionsAgree() {
        // 7 half values, read contiguously and every second one from an odd (unaligned) address.
        let halves: [UInt16] = [0x3C00, 0xC000, 0x0001, 0x7BFF, 0x8400, 0x3555, 0x7C00]
        var bytes = [UInt8](repeating: 0xAA, count: 1)
        for half in halves { bytes.append(UInt8(half & 0xFF)); bytes.append(UInt8(half >> 8)) }
        bytes.withUnsafeBytes { raw in
            let source = raw.baseAddress! + 1
            var contiguous = [Float](repeating: 0, count: 7)
            ElementConversion.toFloat32(source, .float16, count: 7, into: &contiguous)
            #expect(contiguous == halves.map { Float(Float16(bitPattern: $0)) })
            var strided = [Float](repeating: 0, count: 4)
            ElementConversion.toFloat32(source, .float16, count: 4, stride: 2, into: &strided)
            #expect(strided == [contiguous[0], contiguous[2], contiguous[4], contiguous[6]])
        }
    }
}

