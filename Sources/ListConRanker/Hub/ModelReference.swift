import Foundation

/// A Hugging Face model repository id, `owner/name` (for example `ByteDance/ListConRanker`).
///
/// Validation follows the hub's rules (huggingface_hub's `validate_repo_id`): two parts of
/// letters, digits, `-`, `_` and `.`, each starting and ending with a letter, digit or `_`,
/// no `--` or `..`, not ending in `.git`, at most 96 characters.
public struct HubRepositoryID: Hashable, Sendable, CustomStringConvertible {
    /// The user or organisation, e.g. `ByteDance`.
    public let owner: String
    /// The repository name, e.g. `ListConRanker`.
    public let name: String

    /// Parses `owner/name`; throws ``HubError/invalidModelReference(_:reason:)`` with the rule broken.
    public init(_ string: String) throws {
        if let problem = HubRepositoryID.problem(with: string) {
            throw HubError.invalidModelReference(string, reason: problem)
        }
        let parts = string.split(separator: "/", omittingEmptySubsequences: false)
        owner = String(parts[0])
        name = String(parts[1])
    }

    /// `owner/name`.
    public var description: String { "\(owner)/\(name)" }

    /// The cache folder name huggingface_hub uses for this model: `models--owner--name`.
    public var cacheFolderName: String { "models--\(owner)--\(name)" }

    /// Why `string` is not a valid repository id, or nil when it is one.
    static func problem(with string: String) -> String? {
        if string.count > 96 { return "a repository id has at most 96 characters" }
        let parts = string.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return "a repository id has exactly one '/' (owner/name)" }
        for part in parts {
            if part.isEmpty { return "the owner and the name must not be empty" }
            let allowed = part.unicodeScalars.allSatisfy {
                ($0.isASCII && (CharacterSet.alphanumerics.contains($0))) || $0 == "-" || $0 == "_" || $0 == "."
            }
            if !allowed { return "'\(part)' may only contain letters, digits, '-', '_' and '.'" }
            let edge: (Character) -> Bool = { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            if let first = part.first, let last = part.last, !(edge(first) && edge(last)) {
                return "'\(part)' must start and end with a letter, digit or '_'"
            }
        }
        if string.contains("--") || string.contains("..") { return "'--' and '..' are not allowed" }
        if string.hasSuffix(".git") { return "a repository id cannot end with '.git'" }
        return nil
    }
}

/// What a `--model` argument names: a directory on this machine, or a repository on the hub.
public enum ModelReference: Equatable, Sendable {
    /// An existing local path (a model directory, or a single checkpoint file), used as is.
    case local(URL)
    /// A hub repository at a revision (branch, tag or commit; `main` by default).
    case hub(HubRepositoryID, revision: String)

    /// The revision used when none is given.
    public static let defaultRevision = "main"

    /// Interprets a user's model argument.
    ///
    /// A path that exists locally always wins, so a folder that happens to look like
    /// `owner/name` is still used as a folder. Otherwise the string must be a repository id,
    /// `owner/name` or `owner/name@revision`; `revision` (a separate option) may give the
    /// revision instead, but not a different one.
    public static func parse(_ string: String, revision: String? = nil,
                             fileManager: FileManager = .default) throws -> ModelReference {
        try parse(string, revision: revision, fileManager: fileManager,
                  currentDirectory: URL(fileURLWithPath: fileManager.currentDirectoryPath, isDirectory: true))
    }

    /// `parse` with relative paths taken from `currentDirectory` (tests avoid changing the process's).
    static func parse(_ string: String, revision: String?, fileManager: FileManager,
                      currentDirectory: URL) throws -> ModelReference {
        let trimmed = string.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else {
            throw HubError.invalidModelReference(string, reason: "the model name is empty")
        }
        let expanded = (trimmed as NSString).expandingTildeInPath
        let local = expanded.hasPrefix("/") ? URL(fileURLWithPath: expanded)
            : currentDirectory.appendingPathComponent(expanded)
        if fileManager.fileExists(atPath: local.path) {
            return .local(local.standardizedFileURL)
        }
        // Strings that can only be paths get a path error, not a repository-id one.
        if trimmed.hasPrefix("/") || trimmed.hasPrefix("./") || trimmed.hasPrefix("../") || trimmed.hasPrefix("~") {
            throw HubError.invalidModelReference(string, reason: "no file or directory exists at \(expanded)")
        }
        var idPart = Substring(trimmed)
        var inlineRevision: String?
        if let at = trimmed.firstIndex(of: "@") {
            idPart = trimmed[..<at]
            inlineRevision = String(trimmed[trimmed.index(after: at)...])
            if inlineRevision?.isEmpty == true {
                throw HubError.invalidModelReference(string, reason: "nothing follows '@' (expected a revision)")
            }
        }
        let repository: HubRepositoryID
        do {
            repository = try HubRepositoryID(String(idPart))
        } catch HubError.invalidModelReference(_, let reason) {
            throw HubError.invalidModelReference(
                string, reason: "no such local path, and not a repository id (\(reason))")
        }
        let option = revision?.trimmingCharacters(in: .whitespaces)
        switch (inlineRevision, option) {
        case let (inline?, option?) where !option.isEmpty && inline != option:
            throw HubError.conflictingRevisions(repository: repository.description, inReference: inline, argument: option)
        case let (inline?, _):
            return .hub(repository, revision: inline)
        case let (nil, option?) where !option.isEmpty:
            return .hub(repository, revision: option)
        default:
            return .hub(repository, revision: defaultRevision)
        }
    }
}
