import Foundation
import ListConRankerServer

/// The engine `listconranker serve` serves. The model is not wired yet: this file is the one
/// place to replace once `ListConRanker` offers a `RerankEngine`.
func makeEngine(modelDirectory: URL, precision: ServePrecision) async throws -> any RerankEngine {
    throw EngineNotWiredError(modelDirectory: modelDirectory)
}

/// `serve` was asked for a model before the model is wired to the service.
struct EngineNotWiredError: Error, CustomStringConvertible {
    let modelDirectory: URL
    var description: String {
        "serve: the ListConRanker model is not yet wired to the HTTP service "
            + "(Sources/listconranker/ServeEngineFactory.swift); cannot load \(modelDirectory.path)"
    }
}
