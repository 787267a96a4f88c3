import Foundation
import ListConRanker

/// Reads a model directory's `config.json` for training: the encoder's shape and the dropout
/// probabilities that the inference ``ListConRanker/BertConfiguration`` does not decode.
public struct EncoderConfigurationFile: Sendable, Equatable {
    /// The dimensions.
    public let shape: EncoderShape
    /// `hidden_dropout_prob` and `attention_probs_dropout_prob` (transformers' defaults, 0.1,
    /// when absent).
    public let dropout: EncoderDropout

    private struct DropoutKeys: Decodable {
        let hidden_dropout_prob: Float?
        let attention_probs_dropout_prob: Float?
    }

    /// Decodes `url`; errors name the file.
    public init(url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TrainingError.badWeights("\(url.path): cannot read (\(error))")
        }
        do {
            let configuration = try JSONDecoder().decode(BertConfiguration.self, from: data)
            let keys = try JSONDecoder().decode(DropoutKeys.self, from: data)
            shape = try EncoderShape(configuration: configuration)
            dropout = try EncoderDropout(hidden: keys.hidden_dropout_prob ?? 0.1,
                                         attention: keys.attention_probs_dropout_prob ?? 0.1)
        } catch let error as TrainingError {
            throw TrainingError.badWeights("\(url.path): \(error)")
        } catch {
            throw TrainingError.badWeights("\(url.path): not a BERT config.json (\(error))")
        }
    }
}
