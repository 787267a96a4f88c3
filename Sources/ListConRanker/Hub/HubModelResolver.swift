import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Turns what a user types after `--model` into a local model directory.
///
/// A local path is returned as is. A hub repository id (`ByteDance/ListConRanker`,
/// `owner/name@revision`) is resolved to a commit through the hub API, the files a model
/// needs are downloaded into the Hugging Face cache (shared with Python's huggingface_hub),
/// and the snapshot directory `…/models--owner--name/snapshots/<commit>` is returned.
///
/// ```swift
/// let directory = try await HubModelResolver().resolve("ByteDance/ListConRanker")
/// ```
public struct HubModelResolver: Sendable {
    /// Endpoint, token, offline mode and cache location.
    public var configuration: HubConfiguration
    /// Told about each file transfer; nil for silence.
    public var progress: (any DownloadProgressReporting)?

    /// A resolver; by default configured from the environment (`HF_ENDPOINT`, `HF_TOKEN`,
    /// `HF_HUB_OFFLINE`, `HF_HUB_CACHE`/`HF_HOME`) with a progress bar when stderr is a terminal.
    public init(configuration: HubConfiguration = HubConfiguration(),
                progress: (any DownloadProgressReporting)? = TerminalProgressBar.ifStandardErrorIsTerminal()) {
        self.configuration = configuration
        self.progress = progress
    }

    /// The local directory (or file) for a model argument; see ``ModelReference/parse(_:revision:fileManager:)``.
    public func resolve(_ model: String, revision: String? = nil) async throws -> URL {
        try await resolve(ModelReference.parse(model, revision: revision))
    }

    /// The local directory (or file) for a parsed model reference.
    public func resolve(_ reference: ModelReference) async throws -> URL {
        switch reference {
        case .local(let url):
            return url
        case .hub(let repository, let revision):
            return try await snapshot(repository, revision: revision)
        }
    }

    /// Makes sure the model files of `repository` at `revision` are in the cache and returns
    /// the snapshot directory.
    ///
    /// With `HF_HUB_OFFLINE` set, or when the hub cannot be reached, the cached snapshot the
    /// revision last pointed to is used if it holds a loadable model; otherwise the error says
    /// which files are missing. A full commit id that is already cached needs no network at all.
    public func snapshot(_ repository: HubRepositoryID, revision: String = ModelReference.defaultRevision) async throws -> URL {
        let layout = HubCacheLayout(cacheDirectory: configuration.cacheDirectory, repository: repository)
        if configuration.offline {
            return try cachedSnapshot(layout, revision: revision, reason: "Offline mode (HF_HUB_OFFLINE=1)")
        }
        if HubCacheLayout.isCommitHash(revision), HubModelResolver.isComplete(layout, commit: revision) {
            return layout.snapshot(commit: revision)
        }
        let requests = HubRequests(configuration: configuration, repository: repository)
        let info: RevisionInfo
        do {
            info = try await revisionInfo(requests, revision: revision)
        } catch let error as HubError {
            // As huggingface_hub does: when the hub is unreachable (or failing), fall back to the cache.
            switch error {
            case .networkFailure, .unexpectedStatus(_, 500...599, _):
                if let cached = try? cachedSnapshot(layout, revision: revision, reason: "") { return cached }
            default:
                break
            }
            throw error
        }
        let files = try HubModelResolver.filesToFetch(siblings: info.siblings, repository: repository, commit: info.commit)
        try layout.createDirectory(layout.repositoryFolder)
        try layout.recordRevision(revision, commit: info.commit)
        for file in HubModelResolver.wantedFiles where !info.siblings.contains(file) {
            try layout.markMissing(commit: info.commit, file: file)
        }
        let downloader = HubFileDownloader(requests: requests, layout: layout, progress: progress)
        for file in files {
            try Task.checkCancellation()
            try await downloader.fetch(file: file, commit: info.commit)
        }
        return layout.snapshot(commit: info.commit)
    }

    // MARK: - Which files a model needs

    /// Tokenizer files, fetched when the repository has them.
    public static let tokenizerFiles = ModelDirectory.File.tokenizer.map(\.rawValue)
    /// The encoder weights, in order of preference: only the first present is fetched.
    public static let weightFiles = ModelDirectory.File.weights.map(\.rawValue)
    /// The ListConRanker head (absent from plain BERT repositories).
    public static let listConRankerFiles = ModelDirectory.File.listConRankerHead.map(\.rawValue)

    /// What a repository or snapshot whose files `has` finds lacks to hold a loadable model
    /// (``ModelDirectory/requiredForEncoder``: the head files are optional, a BERT encoder loads too).
    static func missing(has: (String) -> Bool) -> [String] {
        ModelDirectory.missing(ModelDirectory.requiredForEncoder) { has($0.rawValue) }
    }

    /// The files to download from a repository whose file list is `siblings`: `config.json`,
    /// the tokenizer files present, `model.safetensors` or else `pytorch_model.bin`, and the
    /// ListConRanker head files present. Throws when `config.json`, every weight file or every
    /// vocabulary file is missing.
    public static func filesToFetch(siblings: [String], repository: HubRepositoryID, commit: String) throws -> [String] {
        let present = Set(siblings)
        let missing = missing(has: present.contains)
        guard missing.isEmpty, let weights = weightFiles.first(where: present.contains) else {
            throw HubError.notAModelRepository(repository: repository.description, commit: commit, missing: missing)
        }
        // Small files first: a wrong repository fails fast, before a gigabyte is on the way.
        return ["config.json"] + tokenizerFiles.filter(present.contains) + listConRankerFiles.filter(present.contains) + [weights]
    }

    /// Every file the resolver asks the hub for.
    static var wantedFiles: [String] { ModelDirectory.File.allCases.map(\.rawValue) }

    /// Whether a cached commit holds every wanted file the repository has — each one is either
    /// present or recorded in `.no_exist` (the preferred weights may be absent only when so
    /// recorded) — so it can be used without asking the hub.
    static func isComplete(_ layout: HubCacheLayout, commit: String) -> Bool {
        let has = { layout.hasSnapshotFile(commit: commit, file: $0) }
        let absent = { layout.isKnownMissing(commit: commit, file: $0) }
        let others = (["config.json"] + tokenizerFiles + listConRankerFiles).allSatisfy { has($0) || absent($0) }
        let weights = has("model.safetensors") || (absent("model.safetensors") && has("pytorch_model.bin"))
        return others && weights && missingFiles(in: layout, commit: commit).isEmpty
    }

    /// What a cached snapshot lacks to be loadable (the same rule ``filesToFetch(siblings:repository:commit:)`` applies).
    static func missingFiles(in layout: HubCacheLayout, commit: String) -> [String] {
        missing { layout.hasSnapshotFile(commit: commit, file: $0) }
    }

    // MARK: - Private

    private func cachedSnapshot(_ layout: HubCacheLayout, revision: String, reason: String) throws -> URL {
        let repository = layout.repository.description
        guard let commit = layout.cachedCommit(for: revision) else {
            throw HubError.notInCache(repository: repository, revision: revision, cacheDirectory: configuration.cacheDirectory.path,
                                      missing: [], reason: reason)
        }
        let missing = HubModelResolver.missingFiles(in: layout, commit: commit)
        guard missing.isEmpty else {
            throw HubError.notInCache(repository: repository, revision: revision, cacheDirectory: configuration.cacheDirectory.path,
                                      missing: missing, reason: reason)
        }
        return layout.snapshot(commit: commit)
    }

    private struct RevisionInfo {
        let commit: String
        let siblings: [String]
    }

    private struct RevisionJSON: Decodable {
        struct Sibling: Decodable { let rfilename: String }
        let sha: String?
        let siblings: [Sibling]?
    }

    /// `GET /api/models/{repo}/revision/{revision}`: the commit and the repository's files.
    private func revisionInfo(_ requests: HubRequests, revision: String) async throws -> RevisionInfo {
        let url = try requests.revisionInfoURL(revision: revision)
        let response: HubHTTPResponse
        let body: Data
        do {
            (response, body) = try await requests.client.send(requests.request(url), redirects: .sameOrigin)
        } catch let error as HubTransportError {
            throw requests.networkError(error)
        }
        guard response.status == 200 else {
            throw requests.statusError(response, body: body, revision: revision)
        }
        let decoded: RevisionJSON
        do {
            decoded = try JSONDecoder().decode(RevisionJSON.self, from: body)
        } catch {
            throw HubError.malformedResponse(url: url.absoluteString, detail: "not the expected JSON (\(error))")
        }
        guard let sha = decoded.sha, HubCacheLayout.isCommitHash(sha) else {
            throw HubError.malformedResponse(url: url.absoluteString, detail: "no 40-hex commit in the 'sha' field")
        }
        guard let siblings = decoded.siblings else {
            throw HubError.malformedResponse(url: url.absoluteString, detail: "no 'siblings' file list")
        }
        return RevisionInfo(commit: sha, siblings: siblings.map(\.rfilename))
    }
}
