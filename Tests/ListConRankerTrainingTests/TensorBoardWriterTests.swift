import Foundation
import Testing
@testable import ListConRankerTraining

/// The hand-written event files: the CRC-32C is the standard one, and TensorBoard's own reader
/// (through `tools/reference/check_tensorboard.py`, when `tensorboard` is importable) loads the
/// scalars back with their steps and values.
@Suite struct TensorBoardWriterTests {
    @Test func crc32cKnownValue() {
        // RFC 3720's check value: CRC-32C("123456789") = 0xE3069283.
        #expect(CRC32C.checksum(Data("123456789".utf8)) == 0xE306_9283)
    }

    @Test func tensorBoardReadsTheScalars() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let writer = try TensorBoardWriter(directory: directory)
        try writer.scalar("train/loss", 1.5, step: 1)
        try writer.scalar("train/loss", 0.75, step: 2)
        try writer.scalar("eval/map", 61.25, step: 300)

        let script = TrainingFixtures.repositoryRoot.appendingPathComponent("tools/reference/check_tensorboard.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, directory.path]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch {
            print("skipped: python3 not runnable (\(error))")
            return
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus == 2 {
            print("skipped: \(message)")   // tensorboard is not installed: nothing to check against
            return
        }
        try #require(process.terminationStatus == 0, "check_tensorboard.py: \(message)")
        let scalars = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [[Double]]])
        #expect(scalars["train/loss"] == [[1, 1.5], [2, 0.75]])
        #expect(scalars["eval/map"] == [[300, 61.25]])
    }

    /// A quick `--resume` opens a second writer on the same folder within the same second: it
    /// must start its own file (named with pid and counter, as TensorFlow's), not truncate the first.
    @Test func aSecondWriterKeepsTheFirstFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try TensorBoardWriter(directory: directory)
        try first.scalar("train/loss", 1.5, step: 1)
        let firstSize = try #require(try FileManager.default.attributesOfItem(atPath: first.url.path)[.size] as? Int)
        let second = try TensorBoardWriter(directory: directory)
        try second.scalar("train/loss", 0.5, step: 2)
        #expect(first.url != second.url)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(files.count == 2)
        #expect(try FileManager.default.attributesOfItem(atPath: first.url.path)[.size] as? Int == firstSize)
        let parts = second.url.lastPathComponent.split(separator: ".")
        // events.out.tfevents.<seconds>.<host…>.<pid>.<counter>
        #expect(parts.count >= 6)
        #expect(parts[parts.count - 2] == Substring(String(ProcessInfo.processInfo.processIdentifier)))
        #expect(Int(parts[parts.count - 1]) != nil)
    }
}
