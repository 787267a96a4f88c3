import Foundation
import ListConRanker
import Testing
@testable import ListConRankerTraining

/// The official-layout writer: the project's reader reads back exactly what was written, and
/// (where PyTorch is importable) the original's strict `load_state_dict` accepts the files.
@Suite struct CheckpointWriterTests {
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("lcr-train-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Written from the tiny model's parameters, the files read back (through `openCheckpoint`)
    /// bit-identical, with the template copy equal to layer 0 and the same key set as the
    /// original file; loading them again gives the same parameters.
    @Test func zipCRC32KnownValue() {
        // The standard check value: CRC-32("123456789") = 0xCBF43926; and of nothing, 0.
        #expect(CRC32.checksum(Data("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum(Data()) == 0)
    }

    @Test func ownReaderReadsBackExactly() throws {
        let parameters = try ListHeadParameters.load(modelDirectory: TrainingFixtures.tinyModel)
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try ListHeadCheckpointWriter.write(parameters, to: directory)

        let written = try openCheckpoint(at: directory.appendingPathComponent("list_transformer.pt"))
        let original = try openCheckpoint(at: TrainingFixtures.tinyModel.appendingPathComponent("list_transformer.pt"))
        #expect(written.descriptors.map(\.name) == original.descriptors.map(\.name))
        for descriptor in written.descriptors {
            #expect(descriptor.dtype == .float32)
            let values = try written.tensor(named: descriptor.name).scalars
            if descriptor.name.hasPrefix("list_transformer_layer.") {
                let layer0 = "list_transformer.layers.0." + descriptor.name.dropFirst("list_transformer_layer.".count)
                #expect(values == (try parameters.tensor(layer0)), "\(descriptor.name)")
            } else {
                #expect(values == (try parameters.tensor(descriptor.name)), "\(descriptor.name)")
            }
        }
        let input = try openCheckpoint(at: directory.appendingPathComponent("linear_in_embedding.pt"))
        #expect(input.descriptors.map(\.name) == ["bias", "weight"])
        #expect(try input.tensor(named: "weight").scalars == parameters.tensor("linear_in_embedding.weight"))

        try FileManager.default.copyItem(at: TrainingFixtures.tinyModel.appendingPathComponent("config.json"),
                                         to: directory.appendingPathComponent("config.json"))
        #expect(try ListHeadParameters.load(modelDirectory: directory) == parameters)
    }

    /// Whether `python3 -c "import torch"` succeeds here (CI has no PyTorch).
    static let torchAvailable: Bool = {
        (try? runPython(["-c", "import torch"]).status) == 0
    }()

    static func runPython(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// `tools/reference/check_written_head.py`: torch.load(weights_only=True), strict
    /// load_state_dict into the reference ListTransformer, the template equal to layer 0, the
    /// `_metadata` keys PyTorch records, and (for the tiny model) every tensor equal to the
    /// original's. Run for the tiny model's parameters and for a freshly initialised head.
    @Test(.enabled(if: torchAvailable, "PyTorch is not importable by python3: the PyTorch load check is skipped"))
    func pyTorchLoadsWrittenFilesStrictly() throws {
        let script = TrainingFixtures.repositoryRoot.appendingPathComponent("tools/reference/check_written_head.py").path
        let tiny = try Self.temporaryDirectory()
        let fresh = try Self.temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(at: tiny)
            try? FileManager.default.removeItem(at: fresh)
        }
        try ListHeadCheckpointWriter.write(try ListHeadParameters.load(modelDirectory: TrainingFixtures.tinyModel), to: tiny)
        let tinyCheck = try Self.runPython([script, tiny.path, TrainingFixtures.tinyModel.path])
        #expect(tinyCheck.status == 0, "\(tinyCheck.output)")

        let shape = try ListHeadShape(hidden: 12, width: 20, feedForward: 28, heads: 5, layers: 3)
        try ListHeadCheckpointWriter.write(ListHeadParameters.initialised(shape: shape, seed: 5), to: fresh)
        let freshCheck = try Self.runPython([script, fresh.path])
        #expect(freshCheck.status == 0, "\(freshCheck.output)")
        print(tinyCheck.output, freshCheck.output)
    }
}

/// The safetensors writer (stage 2's encoder file): the tiny model's encoder tensors, written
/// again under their own names, read back bit-identical with the same shapes and metadata.
@Suite struct SafetensorsWriterTests {
    @Test func encoderTensorsRoundTripThroughTheReader() throws {
        let source = try openCheckpoint(at: TrainingFixtures.tinyModel.appendingPathComponent("model.safetensors"))
        let tensors = try source.descriptors.map { descriptor in
            try PyTorchStateDictWriter.Tensor(name: descriptor.name, shape: descriptor.shape,
                                              values: try source.tensor(named: descriptor.name).scalars)
        }
        let directory = try CheckpointWriterTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("model.safetensors")
        try SafetensorsWriter.write(tensors, to: url)

        let bytes = try Data(contentsOf: url)
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerLength % 8 == 0 && bytes.count == 8 + headerLength + tensors.reduce(0) { $0 + $1.values.count * 4 })

        let written = try SafetensorsFile(url: url)
        #expect(written.metadata == ["format": "pt"])
        #expect(written.descriptors.map(\.name).sorted() == tensors.map(\.name).sorted())
        for tensor in tensors {
            let read = try written.tensor(named: tensor.name)
            #expect(read.shape == tensor.shape)
            #expect(read.scalars.map(\.bitPattern) == tensor.values.map(\.bitPattern), "\(tensor.name)")
        }
        #expect(throws: TrainingError.self) { try SafetensorsWriter.file(tensors + tensors.prefix(1)) }
    }
}
