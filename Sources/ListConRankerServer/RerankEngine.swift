/// The model as the HTTP service sees it: a scorer of one query against a list of texts.
///
/// The service validates requests, counts tokens, queues and serialises calls; the engine only
/// tokenizes and scores. The service never calls `scores` concurrently (the model uses every core
/// for one list), so an engine need not guard against concurrent inference.
public protocol RerankEngine: Sendable {
    /// Model name for /info and the Cohere response's model echo.
    var modelName: String { get }
    /// "fp32" or "bf16".
    var precision: String { get }
    /// Maximum tokens per text including [CLS] and [SEP] (512 for ListConRanker).
    var maxInputLength: Int { get }
    /// Number of tokens the text has, including [CLS] and [SEP], before truncation.
    func tokenCount(_ text: String) -> Int
    /// One score per text, in text order. raw → logits instead of sigmoid probabilities.
    /// Lists of more than 20 texts use iterative inference when `iterative` is true (then raw must be false).
    /// Texts longer than maxInputLength are truncated by the engine.
    func scores(query: String, texts: [String], raw: Bool, iterative: Bool) async throws -> [Float]
}
