import ArgumentParser
import Foundation
import ListConRanker

/// Where `--model` points: a local path as is, a hub repository id through the cache.
enum ModelLocation {
    /// The model a command uses when none is given: the published one, through the Hugging Face
    /// cache (downloaded once; offline, the hub resolver's own error says what is missing).
    static let defaultModel = "ByteDance/ListConRanker"

    /// The name responses give the model: the repository id for a hub model, the folder's name
    /// for a local one (never the server's path, which would tell clients about its file system).
    static func servedName(_ model: String, revision: String?) -> String {
        switch try? ModelReference.parse(model, revision: revision) {
        case .hub(let repository, _): return repository.description
        case .local(let url): return url.lastPathComponent
        case nil: return URL(fileURLWithPath: model).lastPathComponent
        }
    }

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
