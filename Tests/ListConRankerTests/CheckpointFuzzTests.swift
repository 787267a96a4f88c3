import Foundation
import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

/// Feeds mutated copies of valid fixtures to both readers: every outcome must be a thrown
/// `CheckpointError` or a store whose tensors all read back with the advertised shape —
/// never a crash (a trap on overflow, an out-of-bounds read, a stack overflow).
@Suite struct CheckpointFuzzTests {
    static let fixtures = [
        "linear.pt", "linear_zip64.pt", "dtypes.pt", "encoder.pt", "encoder_protocol4.pt", "parameter.pt",
        "bert_plain.safetensors", "bert_prefixed.safetensors",
    ]
    /// 600 per fixture (~5,000 in all, a few seconds in debug); set CHECKPOINT_FUZZ_MUTATIONS
    /// and CHECKPOINT_FUZZ_SEED for a longer or different run.
    static let mutationsPerFixture = ProcessInfo.processInfo.environment["CHECKPOINT_FUZZ_MUTATIONS"].flatMap(Int.init) ?? 600
    static let seed = ProcessInfo.processInfo.environment["CHECKPOINT_FUZZ_SEED"].flatMap(UInt64.init) ?? 0x5EED

    /// Values that tend to break size and offset arithmetic, little-endian.
    static let interestingWords: [UInt64] = [
        0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
        0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF, 0x1_0000_0000,
    ]

    /// One random mutation of `bytes`. Positions favour the start (the safetensors header,
    /// torch's data.pkl) and the end (the zip central directory), where the structure is.
    static func mutate(_ bytes: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var bytes = bytes
        func position() -> Int {
            guard !bytes.isEmpty else { return 0 }
            switch Int.random(in: 0..<4, using: &random) {
            case 0, 1: return Int.random(in: 0..<min(bytes.count, 1500), using: &random)
            case 2: return Int.random(in: max(0, bytes.count - 400)..<bytes.count, using: &random)
            default: return Int.random(in: 0..<bytes.count, using: &random)
            }
        }
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            switch Int.random(in: 0..<6, using: &random) {
            case 0: // bit flips
                for _ in 0..<Int.random(in: 1...8, using: &random) where !bytes.isEmpty {
                    bytes[position()] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &random)
                }
            case 1: // truncation
                bytes.removeLast(Int.random(in: 0...bytes.count, using: &random))
            case 2: // inserted bytes
                let inserted = (0..<Int.random(in: 1...16, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                bytes.insert(contentsOf: inserted, at: min(position(), bytes.count))
            case 3: // removed bytes
                guard !bytes.isEmpty else { break }
                let start = position()
                bytes.removeSubrange(start..<min(bytes.count, start + Int.random(in: 1...16, using: &random)))
            case 4: // an interesting integer over 1, 2, 4 or 8 bytes
                let word = interestingWords.randomElement(using: &random) ?? 0
                let width = [1, 2, 4, 8].randomElement(using: &random) ?? 4
                let start = position()
                for index in 0..<width where start + index < bytes.count {
                    bytes[start + index] = UInt8(truncatingIfNeeded: word >> (8 * UInt64(index)))
                }
            default: // a random byte
                if !bytes.isEmpty { bytes[position()] = UInt8.random(in: 0...255, using: &random) }
            }
        }
        return bytes
    }

    @Test func mutatedFixturesNeverCrash() throws {
        var random = SplitMix64(seed: Self.seed)
        var opened = 0, refused = 0
        for fixture in Self.fixtures {
            let original = try [UInt8](Data(contentsOf: Fixtures.url("checkpoint/\(fixture)")))
            let url = URL(fileURLWithPath: "/mutants/\(fixture)")
            for iteration in 0..<Self.mutationsPerFixture {
                let mutant = Self.mutate(original, &random)
                do {
                    // In memory: the same readers as over a memory map, without disk writes.
                    let store = try openCheckpoint(mapping: MappedFile(url: url, copying: mutant))
                    for descriptor in store.descriptors {
                        let tensor = try store.tensor(named: descriptor.name)
                        let bf16 = try store.bfloat16Tensor(named: descriptor.name)
                        #expect(tensor.shape == descriptor.shape && bf16.shape == descriptor.shape)
                        #expect(tensor.count == descriptor.elementCount)
                    }
                    opened += 1
                } catch is CheckpointError {
                    refused += 1
                } catch {
                    Issue.record("\(fixture) mutation \(iteration): not a CheckpointError: \(error)")
                }
            }
        }
        // Both outcomes occur: the mutations reach past the first check and are not all harmless.
        #expect(opened > 100)
        #expect(refused > 100)
    }
}
