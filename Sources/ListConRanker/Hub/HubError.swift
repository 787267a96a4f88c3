import Foundation

/// What can go wrong while turning a model name into a local snapshot directory.
///
/// Every case renders (``description``) as a message a user can act on: it names the
/// repository, file, URL or cache path involved and, where one exists, the fix.
public enum HubError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The string is neither an existing local path nor a valid hub repository id.
    case invalidModelReference(String, reason: String)
    /// `owner/name@rev` and a separate revision argument name two different revisions.
    case conflictingRevisions(repository: String, inReference: String, argument: String)
    /// The hub answered 404 for the repository (it does not exist, or is private and hidden).
    case repositoryNotFound(repository: String, endpoint: String)
    /// The repository exists but the branch, tag or commit does not.
    case revisionNotFound(repository: String, revision: String)
    /// The hub refused access (HTTP 401 or 403): a gated or private repository.
    case authenticationRequired(repository: String, status: Int, tokenWasSent: Bool)
    /// The hub could not be reached at all (DNS, refused connection, timeout, TLS…).
    case networkFailure(endpoint: String, url: String, detail: String)
    /// The hub answered with an HTTP status this client does not handle.
    case unexpectedStatus(url: String, status: Int, body: String)
    /// The hub answered, but not in the form the client expects.
    case malformedResponse(url: String, detail: String)
    /// The repository lacks files a model needs (checked against the hub's file list).
    case notAModelRepository(repository: String, commit: String, missing: [String])
    /// Offline (`HF_HUB_OFFLINE=1`, or the hub unreachable) and the cache lacks what is needed.
    case notInCache(repository: String, revision: String, cacheDirectory: String, missing: [String], reason: String)
    /// A downloaded file's size differs from the size the hub announced.
    case sizeMismatch(file: String, expected: Int64, actual: Int64)
    /// A downloaded file's SHA-256 differs from the hub's (the file was discarded).
    case checksumMismatch(file: String, expected: String, actual: String)
    /// The transfer stopped early; the partial file is kept and the next attempt resumes it.
    case transferInterrupted(file: String, received: Int64, expected: Int64?, partialFile: String, detail: String)
    /// A file-system operation in the cache failed.
    case fileSystem(path: String, detail: String)

    /// The message for the user: what failed, where, and what to do about it.
    public var description: String {
        switch self {
        case .invalidModelReference(let string, let reason):
            return "'\(string)' is neither an existing local path nor a Hugging Face repository id: \(reason). "
                + "Give a model directory, or a repository as owner/name (optionally owner/name@revision)."
        case .conflictingRevisions(let repository, let inReference, let argument):
            return "Two revisions given for \(repository): '@\(inReference)' in the model name and "
                + "'\(argument)' as the revision option; give only one."
        case .repositoryNotFound(let repository, let endpoint):
            return "Repository '\(repository)' was not found on \(endpoint) (HTTP 404). Check the name; "
                + "if it is private, set HF_TOKEN to a token that can read it."
        case .revisionNotFound(let repository, let revision):
            return "Repository '\(repository)' has no revision '\(revision)' (no such branch, tag or commit)."
        case .authenticationRequired(let repository, let status, let tokenWasSent):
            if tokenWasSent {
                return "Access to '\(repository)' was refused (HTTP \(status)) with the token from HF_TOKEN: "
                    + "it is gated or private and this token has no access. Accept the model's terms on its "
                    + "hub page or use a token that can read it (export HF_TOKEN=hf_…)."
            }
            return "Repository '\(repository)' is gated or private (HTTP \(status)). Set HF_TOKEN to a "
                + "Hugging Face access token that can read it (export HF_TOKEN=hf_…) and try again."
        case .networkFailure(let endpoint, let url, let detail):
            return "Could not reach the Hugging Face hub at \(endpoint) (\(url): \(detail)). Check the network "
                + "connection and HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use only the local cache."
        case .unexpectedStatus(let url, let status, let body):
            let excerpt = body.isEmpty ? "" : ": \(body.prefix(200))"
            return "The hub answered HTTP \(status) for \(url)\(excerpt)"
        case .malformedResponse(let url, let detail):
            return "Unexpected answer from \(url): \(detail)"
        case .notAModelRepository(let repository, let commit, let missing):
            return "Repository '\(repository)' at commit \(commit) has no \(missing.joined(separator: ", ")); "
                + "it does not hold a BERT/ListConRanker model this program can load."
        case .notInCache(let repository, let revision, let cacheDirectory, let missing, let reason):
            let what = missing.isEmpty ? "" : " (missing: \(missing.joined(separator: ", ")))"
            return "\(reason): '\(repository)@\(revision)' is not in the cache at \(cacheDirectory)\(what). "
                + "Download it once with network access (listconranker download \(repository)), "
                + "or point --model at a local directory."
        case .sizeMismatch(let file, let expected, let actual):
            return "Downloaded \(file) has \(actual) bytes but the hub announced \(expected); the file was "
                + "discarded. Try again."
        case .checksumMismatch(let file, let expected, let actual):
            return "Downloaded \(file) has SHA-256 \(actual) but the hub announced \(expected); the file was "
                + "discarded and nothing was added to the cache."
        case .transferInterrupted(let file, let received, let expected, let partialFile, let detail):
            let of = expected.map { " of \($0)" } ?? ""
            return "Download of \(file) stopped after \(received)\(of) bytes (\(detail)). The partial file "
                + "\(partialFile) is kept: run the same command again to resume."
        case .fileSystem(let path, let detail):
            return "Cache file operation failed on \(path): \(detail)"
        }
    }
}
