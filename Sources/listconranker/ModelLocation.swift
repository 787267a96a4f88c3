import ArgumentParser
import Foundation
import ListConRanker

/// Where `--model` points: a local path as is, a hub repository id through the cache.
enum ModelLocation {
    /// The local directory for `model`, downloading a hub snapshot first when needed. Async all
    /// the way down: a blocking wait here would hold a thread of the pool the download needs.
    static func directory(_ model: String, revision: String?) async throws -> URL {
        do {
            return try await HubModelResolver().resolve(model, revision: revision)
        } catch let error as HubError {
            // The library's messages already say what to do: print them alone, not with the usage text.
            throw InputError(error.description)
        }
    }

    /// A usage error when `model` is neither an existing path nor a repository id, found
    /// before anything runs (`serve` would otherwise report it only once loading fails).
    static func validate(_ model: String, revision: String?) throws {
        do {
            _ = try ModelReference.parse(model, revision: revision)
        } catch let error as HubError {
            throw ValidationError("--model \(model): \(error.description)")
        }
    }
}
