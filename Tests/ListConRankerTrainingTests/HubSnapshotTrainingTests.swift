import Foundation
import ListConRanker
import Testing
@testable import ListConRankerTraining

/// Training from a model in the Hugging Face cache (`train --model ByteDance/ListConRanker`): the
/// snapshot's files are relative symbolic links into `blobs/`, as huggingface_hub lays them out.
@Suite struct HubSnapshotTrainingTests {
    /// `models--owner--name/{blobs/<hash>, snapshots/<commit>/<file> → ../../blobs/<hash>}` made
    /// from the tiny model's files; returns the snapshot folder.
    static func hubSnapshot(of model: URL, in root: URL) throws -> URL {
        let manager = FileManager.default
        let repository = root.appendingPathComponent("hub/models--owner--tiny", isDirectory: true)
        let blobs = repository.appendingPathComponent("blobs", isDirectory: true)
        let snapshot = repository.appendingPathComponent("snapshots/0123456789abcdef0123456789abcdef01234567", isDirectory: true)
        try manager.createDirectory(at: blobs, withIntermediateDirectories: true)
        try manager.createDirectory(at: snapshot, withIntermediateDirectories: true)
        for name in try manager.contentsOfDirectory(atPath: model.path) {
            let blob = SHA256.hexDigest(of: try Data(contentsOf: model.appendingPathComponent(name)))
            try manager.copyItem(at: model.appendingPathComponent(name), to: blobs.appendingPathComponent(blob))
            try manager.createSymbolicLink(atPath: snapshot.appendingPathComponent(name).path,
                                           withDestinationPath: "../../blobs/\(blob)")
        }
        return snapshot
    }

    @Test func checkpointsFromASnapshotHoldFilesNotDanglingLinks() throws {
        let root = try TrainerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let snapshot = try Self.hubSnapshot(of: TrainingFixtures.tinyModel, in: root)
        let output = root.appendingPathComponent("out")
        var c = TrainerTests.configuration()
        c.epochs = 1
        var run = TrainingRun(start: .model(snapshot), data: TrainerTests.data, output: output)
        run.featureCache = root.appendingPathComponent("cache")
        run.stopAfterStep = 1
        _ = try Trainer(configuration: c, run: run).train()
        // The second save (and the epoch folder's) must find the first's files usable.
        run.stopAfterStep = nil
        run.resume = true
        let summary = try Trainer(configuration: c, run: run).train()
        #expect(summary.step == summary.totalSteps)

        for folder in [output, output.appendingPathComponent("epoch-1")] {
            for name in ["config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"] {
                let path = folder.appendingPathComponent(name).path
                #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) == nil, "\(path) is a link")
                #expect(FileManager.default.contents(atPath: path)
                            == FileManager.default.contents(atPath: TrainingFixtures.tinyModel.appendingPathComponent(name).path),
                        "\(path)")
            }
            _ = try Reranker(modelDirectory: folder).scores(query: "过敏性鼻炎", passages: ["按时服药", "多喝温水"])
        }
    }
}
