import Foundation
import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

/// A scratch folder for files a test writes, removed when the value is released.
final class CheckpointScratch {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("checkpoint-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    /// Writes `bytes` to `name` and returns its URL.
    func write(_ name: String, _ bytes: [UInt8]) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    /// Writes a safetensors file: the 8-byte length, `header`, then `dataBytes` bytes of data.
    func safetensors(_ name: String, header: String, dataBytes: Int) throws -> URL {
        let json = Array(header.utf8)
        var bytes: [UInt8] = []
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { bytes.append(contentsOf: $0) }
        bytes += json
        bytes += [UInt8](repeating: 0, count: dataBytes)
        return try write(name, bytes)
    }
}

@Suite struct CheckpointErrorTests {
    /// Opens `url` (and reads every tensor) expecting a `CheckpointError` whose message names
    /// the file and contains every fragment.
    func expectError(_ url: URL, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let store = try openCheckpoint(at: url)
            for descriptor in store.descriptors { _ = try store.tensor(named: descriptor.name) }
            Issue.record("\(url.lastPathComponent) opened without error", sourceLocation: sourceLocation)
        } catch let error as CheckpointError {
            #expect(error.description.contains(url.path), "\(error)", sourceLocation: sourceLocation)
            for fragment in fragments {
                #expect(error.description.contains(fragment), "\(error) lacks \(fragment)", sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
        }
    }

    // MARK: safetensors

    @Test func truncatedSafetensors() throws {
        let scratch = try CheckpointScratch()
        let valid = try [UInt8](Data(contentsOf: Fixtures.url("checkpoint/bert_plain.safetensors")))
        let cut = try scratch.write("cut.safetensors", Array(valid.prefix(valid.count - 40)))
        expectError(cut, ["past the end", "truncated"])
        let header = try scratch.write("header-cut.safetensors", Array(valid.prefix(100)))
        expectError(header, ["header length", "past the end"])
        let tiny = try scratch.write("tiny.safetensors", [1, 0, 0])
        expectError(tiny, ["too short"])
    }

    @Test func badHeaders() throws {
        let scratch = try CheckpointScratch()
        expectError(try scratch.safetensors("json.safetensors", header: #"{"a": {"dtype": "F32", "shape": [1]"#,
                                            dataBytes: 4), ["bad safetensors header"])
        expectError(try scratch.safetensors("type.safetensors", header: #"{"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}"#,
                                            dataBytes: 4), ["bad safetensors header", "\"a\""])
        expectError(try scratch.safetensors("metadata.safetensors", header: #"{"__metadata__": {"n": 1}}"#,
                                            dataBytes: 0), ["bad safetensors header", "__metadata__"])
        expectError(try scratch.safetensors("offsets.safetensors", header: #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}"#,
                                            dataBytes: 4), ["\"a\"", "1 data_offsets, expected 2"])
        var huge: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0x10]
        huge += Array(#"{"a": 1}"#.utf8)
        expectError(try scratch.write("huge.safetensors", huge), ["implausible safetensors header length"])
    }

    @Test func offsetPastTheEnd() throws {
        let scratch = try CheckpointScratch()
        let url = try scratch.safetensors("past.safetensors", header: #"""
            {"w": {"dtype": "F32", "shape": [100], "data_offsets": [0, 400]}}
            """#, dataBytes: 16)
        expectError(url, ["\"w\"", "[0, 400]", "past the end of the data area (16 bytes"])
        let negative = try scratch.safetensors("negative.safetensors", header: #"""
            {"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}}
            """#, dataBytes: 16)
        expectError(negative, ["\"w\"", "invalid data_offsets [8, 4]"])
    }

    @Test func overlappingTensors() throws {
        let scratch = try CheckpointScratch()
        let url = try scratch.safetensors("overlap.safetensors", header: #"""
            {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
             "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}
            """#, dataBytes: 24)
        expectError(url, ["\"a\"", "\"b\"", "overlap"])
    }

    @Test func unknownDtypeAndSizeMismatch() throws {
        let scratch = try CheckpointScratch()
        expectError(try scratch.safetensors("dtype.safetensors", header: #"""
            {"w": {"dtype": "F17", "shape": [1], "data_offsets": [0, 4]}}
            """#, dataBytes: 4), ["\"w\"", "unknown dtype \"F17\""])
        expectError(try scratch.safetensors("size.safetensors", header: #"""
            {"w": {"dtype": "F16", "shape": [2, 3], "data_offsets": [0, 8]}}
            """#, dataBytes: 8), ["\"w\"", "needs 12 bytes", "hold 8"])
        expectError(try scratch.safetensors("overflow.safetensors", header: #"""
            {"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 8]}}
            """#, dataBytes: 8), ["\"w\"", "invalid shape"])
        expectError(try scratch.safetensors("negative.safetensors", header: #"""
            {"w": {"dtype": "F32", "shape": [-2, -2], "data_offsets": [0, 16]}}
            """#, dataBytes: 16), ["\"w\"", "invalid shape"])
    }

    @Test func notACheckpoint() throws {
        let scratch = try CheckpointScratch()
        expectError(try scratch.write("empty.bin", []), ["too short"])
        expectError(try scratch.write("text.bin", Array("hello, this is not a model\n".utf8)), ["not a checkpoint"])
        expectError(scratch.folder.appendingPathComponent("absent.pt"), ["cannot open"])
    }

    // MARK: PyTorch zip

    @Test func forbiddenGlobalsAreNamedWithTheirOffset() {
        for (file, global) in [("evil_os_system.pt", "os.system"), ("evil_builtins_eval.pt", "builtins.eval"),
                               ("evil_builtin_eval.pt", "__builtin__.eval")] {
            expectError(Fixtures.url("checkpoint/\(file)"),
                        ["archive/data.pkl byte 2", "forbidden global \(global)"])
        }
    }

    @Test func unknownOpcode() {
        expectError(Fixtures.url("checkpoint/unknown_opcode.pt"), ["data.pkl byte 3", "opcode 0x70", "not accepted"])
    }

    @Test func zipProblems() throws {
        expectError(Fixtures.url("checkpoint/no_data_pkl.pt"), ["no <folder>/data.pkl"])
        expectError(Fixtures.url("checkpoint/compressed.pt"), ["\"linear/data.pkl\"", "compressed (method 8)"])
        expectError(Fixtures.url("checkpoint/missing_storage.pt"), ["tensor \"bias\"", "linear/data/1 is missing"])
        expectError(Fixtures.url("checkpoint/short_storage.pt"),
                    ["tensor \"weight\"", "holds 8 bytes, too few for 12 elements"])
        expectError(Fixtures.url("checkpoint/legacy.pt"), ["legacy (pre-1.6, non-zip) PyTorch checkpoint"])
        let scratch = try CheckpointScratch()
        let valid = try [UInt8](Data(contentsOf: Fixtures.url("checkpoint/linear.pt")))
        expectError(try scratch.write("cut.pt", Array(valid.prefix(valid.count / 2))), ["end-of-central-directory"])
    }

    // MARK: Binding by name

    @Test func missingKeyAndWrongShape() throws {
        let url = Fixtures.url("checkpoint/linear.pt")
        let weights = NamedWeights(try openCheckpoint(at: url))
        let missing = try #require(throws: CheckpointError.self) { try weights.tensor("linear1.weight", shape: [3, 4]) }
        #expect(missing.description == "missing key \"linear1.weight\" in \(url.path)")
        let wrong = try #require(throws: CheckpointError.self) { try weights.tensor("weight", shape: [4, 3]) }
        #expect(wrong.description == "tensor \"weight\" in \(url.path) has shape [3, 4], expected [4, 3]")
        let scoped = try #require(throws: CheckpointError.self) {
            try weights.scoped("encoder.layer.0").bfloat16Tensor("bias", shape: [3])
        }
        #expect(scoped.description.contains("missing key \"encoder.layer.0.bias\""))
    }
}
