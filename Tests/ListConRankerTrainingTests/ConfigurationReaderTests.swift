import Foundation
import ListConRanker
import Testing
@testable import ListConRankerTraining

/// `config.json` has one reader: every training path refuses what inference refuses, with the
/// inference reader's message, and reads the dropout probabilities from the same decoding.
@Suite struct ConfigurationReaderTests {
    /// The tiny model with `config.json` edited by `edit`.
    static func model(editing edit: (inout [String: Any]) -> Void) throws -> URL {
        let folder = try TrainerTests.temporaryDirectory()
        for name in try FileManager.default.contentsOfDirectory(atPath: TrainingFixtures.tinyModel.path) {
            try FileManager.default.copyItem(at: TrainingFixtures.tinyModel.appendingPathComponent(name),
                                             to: folder.appendingPathComponent(name))
        }
        let url = folder.appendingPathComponent("config.json")
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: url)
        return folder
    }

    /// A ReLU encoder: the inference reader refuses it (only the erf GELU runs); before, the head
    /// loader and a new head's start read only the head count and went on.
    @Test func trainingRefusesWhatInferenceRefuses() throws {
        let folder = try Self.model { $0["hidden_act"] = "relu" }
        defer { try? FileManager.default.removeItem(at: folder) }
        let inference = try #require(throws: ModelError.self) { try ModelDirectory(url: folder).configuration() }
        #expect(inference.description.contains("hidden_act"))
        let head = try #require(throws: TrainingError.self) { try ListHeadParameters.load(modelDirectory: folder) }
        #expect(head == .badWeights(inference.description))
        let run = TrainingRun(start: .encoder(folder), data: TrainerTests.data, output: folder.appendingPathComponent("out"))
        let start = try #require(throws: TrainingError.self) { try Trainer(configuration: TrainerTests.configuration(), run: run).train() }
        #expect(start == .badWeights(inference.description))
        #expect(throws: TrainingError.self) { try EncoderParameters.load(modelDirectory: folder) }
    }

    @Test func dropoutComesFromTheSameReading() throws {
        let folder = try Self.model { $0["hidden_dropout_prob"] = 0.25; $0["attention_probs_dropout_prob"] = 0.0 }
        defer { try? FileManager.default.removeItem(at: folder) }
        let configuration = try ModelDirectory(url: folder).configuration()
        #expect(configuration.hiddenDropoutProbability == 0.25 && configuration.attentionDropoutProbability == 0)
        let training = try EncoderConfigurationFile(url: folder.appendingPathComponent("config.json"))
        #expect(training.bert == configuration)
        #expect(training.dropout == (try EncoderDropout(hidden: 0.25, attention: 0)))
    }
}
