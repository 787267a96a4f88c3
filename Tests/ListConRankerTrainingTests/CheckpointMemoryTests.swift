import Foundation
import Testing
@testable import ListConRankerTraining

/// Saving streams to the file: the peak resident memory while a 96 MB training state or a 64 MB
/// safetensors file is written grows by a few megabytes, not by the file's size (BERT-large's
/// state is 4 GB: built in memory first, it doubled the run's memory for a moment).
@Suite(.serialized) struct CheckpointMemoryTests {
    /// VmRSS or VmHWM of this process, in bytes (nil off Linux).
    static func status(_ field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
              let kibibytes = Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "")
        else { return nil }
        return kibibytes * 1024
    }

    /// How far the peak resident set rose above the resident set before `body`; nil where the
    /// peak cannot be reset (not Linux).
    static func peakGrowth(_ body: () throws -> Void) throws -> Int? {
        guard FileManager.default.isWritableFile(atPath: "/proc/self/clear_refs"),
              (try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)) != nil,
              let before = status("VmRSS:") else { return nil }
        try body()
        guard let peak = status("VmHWM:") else { return nil }
        return peak - before
    }

    static let limit = 24 << 20

    @Test func trainingStateIsStreamedToTheFile() throws {
        let directory = try CheckpointWriterTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let count = 8 << 20
        let values = (0..<3).map { k in [Float](unsafeUninitializedCapacity: count) { buffer, initialised in
            for i in 0..<count { buffer[i] = Float(i % 1000) * 0.001 + Float(k) }
            initialised = count
        } }
        let header = TrainingStateFile.Header(configuration: TrainingConfiguration(), start: "model test", dataDigest: "0",
                                              step: 3, totalSteps: 9, parameterCount: count)
        let state = TrainingStateFile(header: header, parameters: values[0], firstMoments: values[1], secondMoments: values[2])
        guard let growth = try Self.peakGrowth({ try state.write(to: directory) }) else {
            print("skipped: no /proc/self/clear_refs to reset the peak resident set")
            return
        }
        print("training state of \((3 * count * 4) >> 20) MiB: peak resident set grew \(growth >> 20) MiB while saving")
        #expect(growth < Self.limit)
        let read = try TrainingStateFile.read(in: directory)
        #expect(read.header == header)
        #expect(read.parameters == values[0] && read.firstMoments == values[1] && read.secondMoments == values[2])
    }

    /// Stage 2's state is the head's blocks then the encoder's, written without concatenating them.
    @Test func blocksAreWrittenInOrder() throws {
        let directory = try CheckpointWriterTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let header = TrainingStateFile.Header(configuration: TrainingConfiguration(), start: "model test", dataDigest: "0",
                                              step: 1, totalSteps: 2, parameterCount: 5)
        try TrainingStateFile.write(header: header, parameters: [[1, 2], [3, 4, 5]], firstMoments: [[6, 7], [8, 9, 10]],
                                    secondMoments: [[11, 12], [13, 14, 15]], to: directory)
        let read = try TrainingStateFile.read(in: directory)
        #expect(read.parameters == [1, 2, 3, 4, 5] && read.firstMoments == [6, 7, 8, 9, 10]
                    && read.secondMoments == [11, 12, 13, 14, 15])
        #expect(throws: TrainingError.self) {
            try TrainingStateFile.write(header: header, parameters: [[1]], firstMoments: [[1]], secondMoments: [[1]], to: directory)
        }
        // Nothing but the state itself is left in the folder (no temporary files).
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == [TrainingStateFile.name])
    }

    @Test func safetensorsAreStreamedToTheFile() throws {
        let directory = try CheckpointWriterTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let rows = 4096, columns = 4096
        let tensor = try PyTorchStateDictWriter.Tensor(
            name: "embeddings.word_embeddings.weight", shape: [rows, columns],
            values: [Float](unsafeUninitializedCapacity: rows * columns) { buffer, initialised in
                for i in 0..<rows * columns { buffer[i] = Float(i % 977) }
                initialised = rows * columns
            })
        let url = directory.appendingPathComponent("model.safetensors")
        guard let growth = try Self.peakGrowth({ try SafetensorsWriter.write([tensor], to: url) }) else {
            print("skipped: no /proc/self/clear_refs to reset the peak resident set")
            return
        }
        print("safetensors of \((rows * columns * 4) >> 20) MiB: peak resident set grew \(growth >> 20) MiB while saving")
        #expect(growth < Self.limit)
        #expect(try Data(contentsOf: url) == (try SafetensorsWriter.file([tensor])))
    }
}
