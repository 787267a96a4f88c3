import Testing
@testable import listconranker

/// The benchmarks' memory figures come from /proc/self/status; the kernel's column padding must
/// not lose a peak of 10 GiB or more (a BERT-large backward without recomputation reaches it).
@Suite struct ResidentMemoryTests {
    @Test func readsPaddedAndFullWidthFields() {
        let status = "Name:\tlistconranker\nVmHWM:\t11534336 kB\nVmRSS:\t  524288 kB\n"
        #expect(ResidentMemory.field("VmHWM:", in: status) == 11_534_336 * 1024)
        #expect(ResidentMemory.field("VmRSS:", in: status) == 524_288 * 1024)
        #expect(ResidentMemory.field("VmSwap:", in: status) == nil)
    }
}
