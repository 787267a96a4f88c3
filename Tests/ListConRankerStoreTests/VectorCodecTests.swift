import Testing
@testable import ListConRankerStore

@Suite("Vector bytes (fp32, bf16)")
struct VectorCodecTests {
    @Test func fp32RoundTripIsBitExact() {
        let values: [Float] = [0, -0.0, 1, -1, .leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude, 0.1, -3.25e-7]
        let bytes = VectorCodec.encode(values, precision: .fp32)
        #expect(bytes.count == values.count * 4)
        // Little-endian on every machine: 1.0 is 00 00 80 3F.
        #expect(Array(bytes[8..<12]) == [0x00, 0x00, 0x80, 0x3F])
        let decoded = bytes.withUnsafeBytes { VectorCodec.decode($0, dimension: values.count, precision: .fp32) }
        #expect(decoded?.map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test func bf16RoundsToNearestEven() {
        // 1 + 2⁻⁸ lies halfway between 1 and 1 + 2⁻⁷: ties go to the even one, 1.
        #expect(VectorCodec.bfloat16Bits(1 + 0x1p-8) == 0x3F80)
        // 1 + 3·2⁻⁸ lies halfway between 1 + 2⁻⁷ (odd) and 1 + 2⁻⁶ (even): up.
        #expect(VectorCodec.bfloat16Bits(1 + 3 * 0x1p-8) == 0x3F82)
        // Just above the tie: up.
        #expect(VectorCodec.bfloat16Bits(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        // The largest finite fp32 rounds up to infinity, as round-to-nearest must.
        #expect(VectorCodec.bfloat16Bits(.greatestFiniteMagnitude) == 0x7F80)
        #expect(Float(bitPattern: UInt32(VectorCodec.bfloat16Bits(.nan)) << 16).isNaN)
    }

    @Test func bf16MatchesAnIndependentRoundingOnRandomValues() {
        let vector = randomVectors(count: 1, dimension: 4096, seed: 7)[0]
        let bytes = VectorCodec.encode(vector, precision: .bf16)
        #expect(bytes.count == vector.count * 2)
        let decoded = bytes.withUnsafeBytes { VectorCodec.decode($0, dimension: vector.count, precision: .bf16) } ?? []
        #expect(decoded == vector.map(referenceBFloat16))
        for (original, stored) in zip(vector, decoded) where original != 0 {
            #expect(abs(stored - original) <= abs(original) * 0x1p-8)
        }
    }

    @Test func decodeRefusesAWrongByteCount() {
        let bytes = VectorCodec.encode([1, 2, 3], precision: .fp32)
        #expect(bytes.withUnsafeBytes { VectorCodec.decode($0, dimension: 4, precision: .fp32) } == nil)
        #expect(bytes.withUnsafeBytes { VectorCodec.decode($0, dimension: 3, precision: .bf16) } == nil)
    }

    @Test func textHashHexRoundTrip() {
        let hash = TextHash(bytes: [0x00, 0xAB, 0xFF, 0x10])
        #expect(hash.hex == "00abff10")
        #expect(TextHash(hex: "00ABff10") == hash)
        #expect(TextHash(hex: "abc") == nil)
        #expect(TextHash(hex: "zz") == nil)
    }

    /// The store hashes texts itself (through ListConRankerDigest, not the model library): the
    /// SHA-256 of the UTF-8 bytes, as `sha256sum` prints it.
    @Test func textHashIsTheSHA256OfTheUTF8Bytes() {
        #expect(TextHash.sha256(of: "abc").hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // printf '高血压' | sha256sum
        #expect(TextHash.sha256(of: "高血压").hex == "fd271504963a120b36777f9cbdee3f1eb009b1d1b4a55329611688a12b89cc58")
        #expect(TextHash.sha256(of: "高血压") != TextHash.sha256(of: "高血压 "))
    }
}
