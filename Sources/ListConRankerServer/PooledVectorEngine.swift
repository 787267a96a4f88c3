/// An engine that can hand out the encoder's pooled vectors and score passages from them
/// (../shared/DESIGN.md §9): what the feature store routes and the vector cache need.
///
/// A separate protocol rather than more requirements on ``RerankEngine``, so that an engine
/// without an encoder (the load tests' fake) still serves the text routes unchanged; the service
/// uses the cache and the store only with an engine that conforms.
///
/// As with ``RerankEngine/scores(query:texts:raw:iterative:)``, the service never calls these
/// concurrently with each other or with `scores`.
public protocol PooledVectorEngine: RerankEngine {
    /// Length of every pooled vector (the encoder's hidden size).
    var hiddenSize: Int { get }

    /// What the vectors depend on (encoder weights, tokenizer, maximum length): a feature store
    /// written under another identity holds another encoder's vectors.
    func encoderIdentity() async throws -> String

    /// The mean-pooled encoder vector of each text, in text order; texts longer than
    /// ``RerankEngine/maxInputLength`` are truncated.
    func pooledVectors(for texts: [String]) async throws -> [[Float]]

    /// One score per passage vector, in order, as
    /// ``RerankEngine/scores(query:texts:raw:iterative:)`` gives them for the passages' texts.
    /// Only the query is encoded.
    func scores(query: String, passageVectors: [[Float]], raw: Bool, iterative: Bool) async throws -> [Float]
}
