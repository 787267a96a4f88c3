import Foundation
import ListConRanker
import ListConRankerServer

/// The engine `listconranker serve` serves: the model directory loaded as a ``RerankerEngine``.
func makeEngine(modelDirectory: URL, name: String, precision: ServePrecision) async throws -> any RerankEngine {
    let resolved: Precision
    switch precision {
    case .fp32: resolved = .fp32
    case .bf16: resolved = .bf16
    case .auto: resolved = .automatic
    }
    return try await RerankerEngine.load(modelDirectory: modelDirectory, options: RerankerOptions(precision: resolved),
                                         modelName: name)
}
