import Foundation
import ListConRanker

/// A model directory's `config.json` as training uses it: the encoder's shape and the dropout
/// probabilities, from the one reader (``ListConRanker/BertConfiguration/init(contentsOf:)``), so
/// training refuses what inference refuses, with the same message.
public struct EncoderConfigurationFile: Sendable, Equatable {
    /// The configuration as read.
    public let bert: BertConfiguration
    /// The dimensions.
    public let shape: EncoderShape
    /// `hidden_dropout_prob` and `attention_probs_dropout_prob` (transformers' defaults, 0.1,
    /// when absent).
    public let dropout: EncoderDropout

    /// Reads `url`; errors name the file.
    public init(url: URL) throws {
        bert = try Self.read(url)
        do {
            shape = try EncoderShape(configuration: bert)
            dropout = try EncoderDropout(hidden: bert.hiddenDropoutProbability, attention: bert.attentionDropoutProbability)
        } catch let error as TrainingError {
            throw TrainingError.badWeights("\(url.path): \(error)")
        }
    }

    /// `config.json` through the one reader, its errors as training reports them.
    public static func read(_ url: URL) throws -> BertConfiguration {
        do { return try BertConfiguration(contentsOf: url) } catch {
            throw TrainingError.badWeights("\(error)")
        }
    }
}
