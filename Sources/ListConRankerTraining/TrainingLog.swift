import Foundation

/// `--log FILE`: one JSON object per line, appended and flushed as it goes — `{"event": "step",
/// "step", "epoch", "loss", "lr", "grad_norm", "lists", "seconds"}` per optimizer step (with
/// `"phases"`, seconds per phase of the step, under `train --profile`, and on a GPU `"kernels"`,
/// seconds per kernel name, `"kernel_launches"`, launches per kernel name, and `"device_memory"`:
/// `"held_peak_bytes"`, the most the run's memory pool has held, and in stage 2
/// `"encoder_activation_count_bytes"`, the step's largest micro-batch's activations by count) and
/// `{"event": "eval", "step", "epoch", "map", "mrr_at_10", "best"}` per evaluation. A resumed run
/// appends, so steps the killed run logged after its last saved state appear twice.
final class TrainingLog {
    private let handle: FileHandle
    private let url: URL

    init(url: URL) throws {
        self.url = url
        let manager = FileManager.default
        do {
            try manager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            if !manager.fileExists(atPath: url.path) { manager.createFile(atPath: url.path, contents: nil) }
            handle = try FileHandle(forWritingTo: url)
            try handle.seekToEnd()
        } catch {
            throw TrainingError.writeFailed("\(url.path): \(error.localizedDescription)")
        }
    }

    deinit { try? handle.close() }

    /// Appends one line holding `fields` (keys sorted, so lines diff cleanly).
    func write(_ fields: [String: Any]) throws {
        do {
            var data = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
            data.append(0x0A)
            try handle.write(contentsOf: data)
        } catch {
            throw TrainingError.writeFailed("\(url.path): \(error.localizedDescription)")
        }
    }
}
