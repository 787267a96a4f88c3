// The zip reader under `torch.save` checkpoints (end records, zip64, central directory, local
// headers), then the whole PyTorch checkpoint over it: the pickle's tensors checked against the
// archive's storages and read back.
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
    let mapping = MappedFile(url: url, copying: Array(UnsafeBufferPointer(start: data, count: size)))
    do {
        let archive = try ZipArchive(mapping: mapping)
        for entry in archive.entries.values {
            do {
                let stored = try archive.storedBytes(of: entry, in: mapping)
                // An entry's bytes must lie inside the file (ASan would not see an overrun of the
                // allocation's neighbours, so check the range itself).
                if stored.count > 0 {
                    guard let start = stored.baseAddress, let base = mapping.bytes.baseAddress,
                          start >= base, start + stored.count <= base + mapping.count else {
                        invariantFailed("entry \(entry.name): \(stored.count) bytes outside the \(mapping.count)-byte file")
                    }
                }
            } catch is CheckpointError {
                // A compressed or damaged entry is refused by itself; the others stay readable.
            }
        }
        readEveryTensor(try PyTorchCheckpoint(mapping: mapping))
    } catch is CheckpointError {
    } catch {
        invariantFailed("not a CheckpointError: \(error)")
    }
    return 0
}
