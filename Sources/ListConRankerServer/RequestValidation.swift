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
        /// For a `document_ids` request: the passages' stored vectors (filled in after the
        /// store look-up; `texts` is then empty).
        var passageVectors: [[Float]]? = nil
        var raw: Bool
        var iterative: Bool
        /// Tokens of the query and every text after truncation (for stored passages: the query's
        /// alone, as only the query is encoded).
        var totalTokens: Int

        /// Passages to score, texts or stored vectors.
        var passageCount: Int { passageVectors?.count ?? texts.count }
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

    /// The second half of a list's checks, for a list whose shape
    /// ``checkListShape(query:count:field:raw:allowIterative:)`` passed: tokenizes every text (the
    /// costly part), applies the truncation rule and max-batch-tokens.
    /// - Parameters:
    ///   - textsField: the request's name for the list ("texts" or "documents"), for messages.
    ///   - raw: the request wants logits.
    ///   - iterative: what the shape check returned.
    func countTokens(
        query: String, texts: [String], textsField: String,
        truncation: Truncation, raw: Bool, iterative: Bool
    ) throws(ServiceError) -> ScoringJob {
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

    /// The checks of a `document_ids` request (passages stored in the feature store) that
    /// tokenize nothing: the list's shape, and ids that are non-empty strings. Returns whether
    /// the list is ranked iteratively.
    func checkShape(query: String, documentIDs ids: [String]) throws(ServiceError) -> Bool {
        let iterative = try checkListShape(
            query: query, count: ids.count, field: "document_ids", raw: false, allowIterative: true)
        if let empty = ids.firstIndex(where: \.isEmpty) {
            throw .unprocessable("`document_ids[\(empty)]` is empty")
        }
        return iterative
    }

    /// The second half of a `document_ids` request's checks: only the query is encoded, truncated
    /// on the right as Cohere does.
    func countQueryTokens(query: String, iterative: Bool) throws(ServiceError) -> ScoringJob {
        let queryTokens = min(engine.tokenCount(query), engine.maxInputLength)
        if queryTokens > configuration.maxBatchTokens {
            throw .tooLarge(
                "the query has \(queryTokens) tokens after truncation, more than max-batch-tokens "
                    + "\(configuration.maxBatchTokens)")
        }
        return ScoringJob(query: query, texts: [], raw: false, iterative: iterative, totalTokens: queryTokens)
    }

    /// The checks every list shares: a query, a list neither empty nor over max-client-batch-size,
    /// and no raw scores for a list ranked iteratively. Returns whether it is ranked iteratively.
    /// Tokenizes nothing: cheap enough to run before the queue is asked for a place.
    func checkListShape(
        query: String, count: Int, field: String, raw: Bool, allowIterative: Bool
    ) throws(ServiceError) -> Bool {
        if query.allSatisfy(\.isWhitespace) {
            throw .unprocessable("`query` must not be empty")
        }
        if count == 0 {
            throw .unprocessable("`\(field)` must not be empty")
        }
        if count > configuration.maxClientBatchSize {
            throw .tooLarge(
                "`\(field)` has \(count) elements, more than max-client-batch-size "
                    + "\(configuration.maxClientBatchSize)")
        }
        let iterative = allowIterative && IterativeInference.applies(toPassageCount: count)
        if raw && iterative {
            throw .unprocessable(
                "`raw_scores` is not available for more than \(IterativeInference.threshold) texts "
                    + "(got \(count)): such lists are ranked by iterative inference, whose "
                    + "scores are round offsets, neither logits nor probabilities")
        }
        return iterative
    }
}
