/// One list of a batch that ``Reranker/scores(batch:)`` scores together with others: a query and
/// its passages, each given as text or as its stored pooled vector.
///
/// A batch encodes every distinct text of every list in one packed pass through the encoder, then
/// runs the list head once over all conventional lists; a list's scores do not depend on the lists
/// it was batched with (within the precision's rounding).
public struct ScoringList: Sendable, Equatable {
    /// A passage: its text (encoded in the batch's pass) or its stored pooled vector (see
    /// ``Reranker/pooledVectors(for:)``), which skips the encoder.
    public enum Passage: Sendable, Hashable {
        /// The passage's text.
        case text(String)
        /// The passage's pooled encoder vector, `hidden_size` finite values.
        case vector([Float])
    }

    /// The query; it must hold more than whitespace.
    public var query: String
    /// The passages, in the order their scores come back. An empty list gets no scores.
    public var passages: [Passage]
    /// Logits (before the sigmoid) instead of probabilities; ignored when iterative inference applies.
    public var raw: Bool
    /// Iterative inference when the list has more than ``IterativeInference/threshold`` passages
    /// (scores that order passages, not probabilities); conventional scoring otherwise.
    public var iterative: Bool

    /// A list of `passages` for `query`; conventional probabilities unless asked otherwise.
    public init(query: String, passages: [Passage], raw: Bool = false, iterative: Bool = false) {
        self.query = query
        self.passages = passages
        self.raw = raw
        self.iterative = iterative
    }

    /// A list of passages given as texts.
    public init(query: String, texts: [String], raw: Bool = false, iterative: Bool = false) {
        self.init(query: query, passages: texts.map(Passage.text), raw: raw, iterative: iterative)
    }

    /// A list of passages given as stored pooled vectors.
    public init(query: String, passageVectors: [[Float]], raw: Bool = false, iterative: Bool = false) {
        self.init(query: query, passages: passageVectors.map(Passage.vector), raw: raw, iterative: iterative)
    }
}

/// What ``Reranker/scores(batch:)`` returns: each list's scores, and the pooled vectors of the
/// texts it encoded (for a cache of vectors keyed by text).
public struct ScoredBatch: Sendable {
    /// One array per list, in list order; one score per passage, in passage order.
    public var scores: [[Float]]
    /// The pooled encoder vector of each distinct text the batch encoded: queries and text passages.
    public var encodedVectors: [String: [Float]]

    /// A batch's scores and encoded vectors (for engines that score batches their own way).
    public init(scores: [[Float]], encodedVectors: [String: [Float]]) {
        self.scores = scores
        self.encodedVectors = encodedVectors
    }
}
