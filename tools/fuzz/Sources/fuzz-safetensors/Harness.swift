// The safetensors reader: the 8-byte header length, the JSON header, and the tensor index built
// from it (dtype, shape, data_offsets against the data area), then every listed tensor read back.
import Foundation
import FuzzSupport
@testable import ListConRankerCheckpoint

private let url = URL(fileURLWithPath: "/fuzz/input.safetensors")

@main enum Harness {
    static func main() { runLibFuzzer { data, size in fuzz(data, size) } }
}

/// One input; returns 0 (libFuzzer's convention for "keep going").
private func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    // In memory, as the mutation test does: the same reader as over a memory map.
    let mapping = MappedFile(url: url, copying: Array(UnsafeBufferPointer(start: data, count: size)))
    do {
        readEveryTensor(try SafetensorsFile(mapping: mapping))
    } catch is CheckpointError {
        // Refused with a message: the expected outcome for most inputs.
    } catch {
        invariantFailed("not a CheckpointError: \(error)")
    }
    return 0
}
