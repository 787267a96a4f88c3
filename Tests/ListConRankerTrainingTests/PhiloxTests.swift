import Testing
@testable import ListConRankerTraining

/// The dropout generator: Philox-4×32-10's known answers, and masks made of its uniforms.
@Suite struct PhiloxTests {
    /// Random123's known-answer vectors for philox4x32_10 (`kat_vectors`: zero and all-ones
    /// counter and key), and blocks computed by randomgen's independent implementation
    /// (`randomgen.Philox(number=4, width=32)`): the digits of π as counter and key, and counter
    /// (5, 0, 7, 0) under key (9, 0).
    @Test func knownAnswers() {
        let zero = Philox.block((0, 0, 0, 0), key: (0, 0))
        #expect([zero.0, zero.1, zero.2, zero.3] == [0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8])
        let ones = Philox.block((.max, .max, .max, .max), key: (.max, .max))
        #expect([ones.0, ones.1, ones.2, ones.3] == [0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD])
        let pi = Philox.block((0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344), key: (0xA409_3822, 0x299F_31D0))
        #expect([pi.0, pi.1, pi.2, pi.3] == [0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1])
        let small = Philox.block((5, 0, 7, 0), key: (9, 0))
        #expect([small.0, small.1, small.2, small.3] == [0xD814_7D9D, 0xB338_D394, 0x7BCA_0A03, 0xF758_70E4])
    }

    /// Element i of stream s under seed k is word i % 4 of block (i / 4, s) under k, top 24 bits.
    @Test func elementsAreWordsOfTheirBlock() {
        let words = Philox.block((0, 0, 0, 0), key: (0, 0))
        #expect(Philox.unit(seed: 0, stream: 0, element: 1) == Float(words.1 >> 8) * 0x1p-24)
        let later = Philox.block((5, 0, 7, 0), key: (9, 0))
        #expect(Philox.unit(seed: 9, stream: 7, element: 22) == Float(later.2 >> 8) * 0x1p-24)
    }

    @Test func aMaskKeepsWithProbabilityOneMinusPAndScales() {
        let count = 40_001
        let mask = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { mask.deallocate() }
        Philox.dropoutMask(mask, count: count, probability: 0.1, seed: 42, stream: 3)
        let kept = (0..<count).filter { mask[$0] != 0 }
        #expect(kept.allSatisfy { mask[$0] == 1 / (1 - Float(0.1)) })
        #expect(abs(Double(kept.count) / Double(count) - 0.9) < 0.01)
        // The same elements as the scalar definition, including the ragged end.
        for i in [0, 1, 2, 3, 4, 17, count - 1] {
            #expect((mask[i] != 0) == (Philox.unit(seed: 42, stream: 3, element: UInt64(i)) >= 0.1))
        }
        let other = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { other.deallocate() }
        Philox.dropoutMask(other, count: count, probability: 0.1, seed: 42, stream: 4)
        #expect((0..<count).contains { (mask[$0] != 0) != (other[$0] != 0) }, "another stream, another mask")
    }
}
