// The restricted unpickler on its own, fed raw pickle bytes (a `data.pkl`): it must refuse what
// it does not know with a CheckpointError, never execute anything (it has no way to: globals
// outside the allow-list are refused by name) and never crash or recurse without bound.
import Foundation
import FuzzSupport
@testable import ListConRankerCheckpoint

private let url = URL(fileURLWithPath: "/fuzz/input.pt")

@main enum Harness {
    static func main() { runLibFuzzer { data, size in fuzz(data, size) } }
}

/// One input; returns 0 (libFuzzer's convention for "keep going").
private func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    var unpickler = StateDictUnpickler(bytes: raw, url: url, member: "archive/data.pkl")
    do {
        let value = try unpickler.load()
        // The depth bound is what keeps freeing the value from overflowing the stack.
        guard value.depth <= StateDictUnpickler.maximumDepth + 1 else {
            invariantFailed("unpickled value nests \(value.depth) deep, past the limit \(StateDictUnpickler.maximumDepth)")
        }
    } catch is CheckpointError {
    } catch {
        invariantFailed("not a CheckpointError: \(error)")
    }
    return 0
}
