import ListConRanker

/// Checks one rerank request against the service's limits and the model's maximum length, and
/// turns it into the work the model will do. Shared by both rerank routes so that their limits
/// cannot drift apart.
struct RequestValidation {
    let configuration: ServiceConfiguration
    let engine: any RerankEngine

    /// A validated request: what to ask the engine, and how many tokens it will process.
    struct ScoringJob {
        var query: String
        var texts: [String]
        var raw: Bool
        var iterative: Bool
        /// Tokens of the query and every text after truncation.
        var totalTokens: Int
    }

    /// How the request asks for texts longer than the model's maximum to be handled.
    enum Truncation {
        /// Refuse such a text with 413 (TEI's default).
        case refuse
        /// Keep the first `maxInputLength` tokens.
        case right
        /// Keep the last `maxInputLength` tokens: the engine cannot, so a request that would
        /// need it is refused with 422; one whose texts all fit is served, as direction is moot.
        case left
    }

    /// - Parameters:
    ///   - textsField: the request's name for the list ("texts" or "documents"), for messages.
    ///   - raw: the request wants logits.
    ///   - allowIterative: lists over 20 texts use iterative inference.
    func validate(
        query: String, texts: [String], textsField: String,
        truncation: Truncation, raw: Bool, allowIterative: Bool
    ) throws(ServiceError) -> ScoringJob {
        if query.allSatisfy(\.isWhitespace) {
            throw .unprocessable("`query` must not be empty")
        }
        if texts.isEmpty {
            throw .unprocessable("`\(textsField)` must not be empty")
        }
        if texts.count > configuration.maxClientBatchSize {
            throw .tooLarge(
                "`\(textsField)` has \(texts.count) elements, more than max-client-batch-size "
                    + "\(configuration.maxClientBatchSize)")
        }
        let iterative = allowIterative && IterativeInference.applies(toPassageCount: texts.count)
        if raw && iterative {
            throw .unprocessable(
                "`raw_scores` is not available for more than \(IterativeInference.threshold) texts "
                    + "(got \(texts.count)): such lists are ranked by iterative inference, whose "
                    + "scores are round offsets, neither logits nor probabilities")
        }

        let maxLength = engine.maxInputLength
        /// Tokens the model will process for one text; `name` is built only for an error.
        func truncatedTokenCount(_ text: String, name: () -> String) throws(ServiceError) -> Int {
            let count = engine.tokenCount(text)
            guard count > maxLength else { return count }
            switch truncation {
            case .refuse:
                throw .tooLarge(
                    "\(name()) has \(count) tokens, more than the model's maximum \(maxLength); "
                        + "send \"truncate\": true to cut it to \(maxLength)")
            case .left:
                throw .unprocessable(
                    "\(name()) has \(count) tokens, more than the model's maximum \(maxLength), "
                        + "and \"truncation_direction\": \"Left\" is not supported (the model "
                        + "truncates on the right); send \"Right\" or a shorter text")
            case .right:
                return maxLength
            }
        }
        var totalTokens = try truncatedTokenCount(query) { "`query`" }
        for (index, text) in texts.enumerated() {
            totalTokens += try truncatedTokenCount(text) { "`\(textsField)[\(index)]`" }
        }
        if totalTokens > configuration.maxBatchTokens {
            throw .tooLarge(
                "the request has \(totalTokens) tokens (query and \(textsField) after truncation), "
                    + "more than max-batch-tokens \(configuration.maxBatchTokens)")
        }
        return ScoringJob(query: query, texts: texts, raw: raw, iterative: iterative, totalTokens: totalTokens)
    }
}
