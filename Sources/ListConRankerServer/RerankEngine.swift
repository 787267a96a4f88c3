/// The model as the HTTP service sees it: a scorer of one query against a list of texts.
///
/// The service validates requests, counts tokens, queues and serialises calls; the engine only
/// tokenizes and scores. The service never calls `scores` concurrently (the model uses every core
/// for one list), so an engine need not guard against concurrent inference.
public protocol RerankEngine: Sendable {
    /// Model name for /info and the Cohere response's model echo.
    var modelName: String { get }
    /// The products' precision: "fp32", "bf16", "fp16" or "int8".
    var precision: String { get }
    /// Where the model runs, as `--device` names it: "cpu" or "cuda:N".
    var device: String { get }
    /// The device's own name where it has one (a GPU's, such as "NVIDIA H100 80GB HBM3").
    var deviceName: String? { get }
    /// Why the device can no longer run the model (a GPU whose context failed for good), or nil.
    /// While it is set, `/health` and the rerank routes answer 503 so that the service is restarted.
    var deviceFailure: String? { get }
    /// Maximum tokens per text including [CLS] and [SEP] (512 for ListConRanker).
    var maxInputLength: Int { get }
    /// Number of tokens the text has, including [CLS] and [SEP], before truncation.
    func tokenCount(_ text: String) -> Int
    /// One score per text, in text order. raw → logits instead of sigmoid probabilities.
    /// Lists of more than 20 texts use iterative inference when `iterative` is true (then raw must be false).
    /// Texts longer than maxInputLength are truncated by the engine.
    func scores(query: String, texts: [String], raw: Bool, iterative: Bool) async throws -> [Float]
}

extension RerankEngine {
    /// An engine that says nothing of its device runs on the CPU.
    public var device: String { "cpu" }
    /// No name beyond ``device``.
    public var deviceName: String? { nil }
    /// A device that never fails for good.
    public var deviceFailure: String? { nil }
}
