import Testing
@testable import ListConRanker

@Suite struct TensorStorageTests {
    @Test func bfloat16RoundTripRoundsToNearestEven() {
        #expect(BFloat16.float(BFloat16.bits(1.0)) == 1.0)
        // 1 + 2^-8 lies exactly between two bf16 values: ties go to even (1.0).
        #expect(BFloat16.float(BFloat16.bits(1.00390625)) == 1.0)
        #expect(BFloat16.float(BFloat16.bits(1.01171875)) == 1.015625)
    }
}
