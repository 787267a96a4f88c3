// The evaluation set reader: JSON lines of {"query", "positive", "negative"}, read through the
// chunked LineReader. The line reader is also run with a small chunk size chosen by the input's
// length, so that lines and `\r\n` pairs straddle chunk boundaries, and must hand back exactly
// the file's bytes.
import Foundation
import FuzzSupport
@testable import ListConRanker

private let scratch = ScratchDirectory("eval-jsonl")

@main enum Harness {
    static func main() { runLibFuzzer { data, size in fuzz(data, size) } }
}

/// One input; returns 0 (libFuzzer's convention for "keep going").
private func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let file = scratch.place("dataset.jsonl", bytes)

    do {
        let dataset = try RerankingDataset(contentsOf: file, limit: size % 3 == 0 ? 2 : nil)
        guard !dataset.samples.isEmpty else { invariantFailed("a dataset was read with no samples") }
        for (earlier, later) in zip(dataset.samples, dataset.samples.dropFirst()) where later.line <= earlier.line {
            invariantFailed("sample line numbers do not increase: \(earlier.line), \(later.line)")
        }
    } catch is RerankingDatasetError {
    } catch {
        invariantFailed("not a RerankingDatasetError: \(error)")
    }

    // Lines joined with what the reader removed must give back the file.
    do {
        // 1 to 7 bytes for short inputs; for longer ones at most 8 chunks, since each read is a
        // system call and byte-sized reads of a long input slowed the harness to 100 runs/s.
        let chunkSize = size < 64 ? 1 + size % 7 : 1 + size / (1 + size % 8)
        let reader = try LineReader(url: file, chunkSize: chunkSize)
        var rebuilt: [UInt8] = []
        var previousEnd: UInt64 = 0
        while let line = try reader.next() {
            rebuilt += line.bytes
            let ending = Int(line.endOffset - previousEnd) - line.bytes.count
            switch ending {
            case 0 where !line.isTerminated: break
            case 1 where line.isTerminated: rebuilt.append(0x0A)
            case 2 where line.isTerminated: rebuilt += [0x0D, 0x0A]
            default: invariantFailed("line \(line.number): \(ending) bytes of line ending")
            }
            previousEnd = line.endOffset
        }
        guard rebuilt == bytes else { invariantFailed("the lines do not rebuild the \(size)-byte file") }
    } catch {
        invariantFailed("reading a file just written failed: \(error)")
    }
    return 0
}
