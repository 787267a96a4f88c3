import Foundation
import ListConRanker
import ListConRankerServer

/// The engine `listconranker serve` serves: the model directory loaded as a ``RerankerEngine``.
func makeEngine(modelDirectory: URL, name: String, options: RerankerOptions) async throws -> any RerankEngine {
    try await RerankerEngine.load(modelDirectory: modelDirectory, options: options, modelName: name)
}
