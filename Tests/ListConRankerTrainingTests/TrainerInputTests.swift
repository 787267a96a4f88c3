import Foundation
import ListConRanker
import Testing
@testable import ListConRankerTraining

/// Bad input is a clear error, and nothing in the output directory is touched.
@Suite struct TrainerInputTests {
    static func contents(_ url: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
    }

    @Test func emptyDataFile() throws {
        let root = try TrainerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = root.appendingPathComponent("empty.jsonl")
        try Data("\n\n".utf8).write(to: data)
        var run = TrainingRun(start: .model(TrainingFixtures.tinyModel), data: data, output: root.appendingPathComponent("out"))
        run.featureCache = root.appendingPathComponent("cache")
        #expect(throws: RerankingDatasetError.empty(file: data.path)) {
            try Trainer(configuration: TrainerTests.configuration(), run: run).train()
        }
        #expect(!FileManager.default.fileExists(atPath: run.output.path))
    }

    @Test func lineWithoutQuery() throws {
        let root = try TrainerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = root.appendingPathComponent("bad.jsonl")
        try Data(#"{"query": "q", "positive": ["a"], "negative": ["b"]}\#n{"positive": ["a"], "negative": ["b"]}\#n"#.utf8)
            .write(to: data)
        var run = TrainingRun(start: .model(TrainingFixtures.tinyModel), data: data, output: root.appendingPathComponent("out"))
        run.featureCache = root.appendingPathComponent("cache")
        #expect(throws: RerankingDatasetError.missingField(file: data.path, line: 2, field: "query")) {
            try Trainer(configuration: TrainerTests.configuration(), run: run).train()
        }
    }

    @Test func listSizeBelowTwoAndUnknownStage() throws {
        var c = TrainerTests.configuration()
        c.listSize = 1
        let run = TrainingRun(start: .model(TrainingFixtures.tinyModel), data: TrainerTests.data,
                              output: URL(fileURLWithPath: "/nonexistent"))
        #expect(throws: TrainingError.self) { try Trainer(configuration: c, run: run) }
        c.listSize = 6
        c.stage = 3
        do {
            _ = try Trainer(configuration: c, run: run)
            Issue.record("stage 3 was accepted")
        } catch let error as TrainingError {
            #expect(error.description.contains("stage must be 1"))
        }
    }

    @Test func outputHoldingAnotherModel() throws {
        let root = try TrainerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let other = root.appendingPathComponent("other")
        try FileManager.default.copyItem(at: TrainingFixtures.tinyModel, to: other)
        let before = Self.contents(other)
        let head = try Data(contentsOf: other.appendingPathComponent("list_transformer.pt"))
        var run = TrainingRun(start: .model(TrainingFixtures.tinyModel), data: TrainerTests.data, output: other)
        run.featureCache = root.appendingPathComponent("cache")
        do {
            _ = try Trainer(configuration: TrainerTests.configuration(), run: run).train()
            Issue.record("an output holding a model was accepted")
        } catch let error as TrainingError {
            #expect(error.description.contains("holds another model"))
        }
        #expect(Self.contents(other) == before)
        #expect(try Data(contentsOf: other.appendingPathComponent("list_transformer.pt")) == head)
    }

    @Test func resumeWithChangedHyperParameters() throws {
        let root = try TrainerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let output = root.appendingPathComponent("out")
        var run = TrainingRun(start: .model(TrainingFixtures.tinyModel), data: TrainerTests.data, output: output)
        run.featureCache = root.appendingPathComponent("cache")
        run.stopAfterStep = 1
        var c = TrainerTests.configuration()
        _ = try Trainer(configuration: c, run: run).train()
        let state = try Data(contentsOf: output.appendingPathComponent(TrainingStateFile.name))
        c.learningRate = 5e-4
        run.resume = true
        do {
            _ = try Trainer(configuration: c, run: run).train()
            Issue.record("a resume with another learning rate was accepted")
        } catch let error as TrainingError {
            #expect(error.description.contains("learningRate"))
        }
        // Without --resume, even the same settings are refused (a finished or paused run is not overwritten).
        run.resume = false
        c.learningRate = TrainerTests.configuration().learningRate
        #expect(throws: TrainingError.self) { try Trainer(configuration: c, run: run).train() }
        #expect(try Data(contentsOf: output.appendingPathComponent(TrainingStateFile.name)) == state)
    }
}
