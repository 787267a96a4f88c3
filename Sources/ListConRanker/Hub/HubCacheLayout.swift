import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The on-disk layout of one repository in the Hugging Face hub cache, exactly as
/// huggingface_hub's `file_download.py` writes it, so either program reuses the other's files:
///
/// ```
/// <cache>/models--owner--name/
///     blobs/<etag>                  file contents, named by sha256 (LFS) or git sha1
///     blobs/<etag>.incomplete       a transfer in progress (resumable)
///     refs/<revision>               the commit a branch or tag pointed to, no newline
///     snapshots/<commit>/<file>     relative symlink ../../blobs/<etag>
///     .no_exist/<commit>/<file>     empty: the file is known not to exist at that commit
/// <cache>/.locks/models--owner--name/<etag>.lock
/// ```
struct HubCacheLayout {
    let cacheDirectory: URL
    let repository: HubRepositoryID

    var repositoryFolder: URL { cacheDirectory.appendingPathComponent(repository.cacheFolderName, isDirectory: true) }
    var blobsFolder: URL { repositoryFolder.appendingPathComponent("blobs", isDirectory: true) }
    var refsFolder: URL { repositoryFolder.appendingPathComponent("refs", isDirectory: true) }
    var snapshotsFolder: URL { repositoryFolder.appendingPathComponent("snapshots", isDirectory: true) }
    var locksFolder: URL {
        cacheDirectory.appendingPathComponent(".locks", isDirectory: true)
            .appendingPathComponent(repository.cacheFolderName, isDirectory: true)
    }

    func blob(etag: String) -> URL { blobsFolder.appendingPathComponent(etag) }
    func incompleteBlob(etag: String) -> URL { blobsFolder.appendingPathComponent(etag + ".incomplete") }
    func lock(etag: String) -> URL { locksFolder.appendingPathComponent(etag + ".lock") }
    func snapshot(commit: String) -> URL { snapshotsFolder.appendingPathComponent(commit, isDirectory: true) }
    func pointer(commit: String, file: String) -> URL { snapshot(commit: commit).appendingPathComponent(file) }
    func noExistMarker(commit: String, file: String) -> URL {
        repositoryFolder.appendingPathComponent(".no_exist", isDirectory: true)
            .appendingPathComponent(commit, isDirectory: true).appendingPathComponent(file)
    }

    /// Records that `file` does not exist at `commit` (huggingface_hub's `.no_exist` marker,
    /// which transformers also reads to skip asking the hub again).
    func markMissing(commit: String, file: String) throws {
        let marker = noExistMarker(commit: commit, file: file)
        if FileManager.default.fileExists(atPath: marker.path) { return }
        try createDirectory(marker.deletingLastPathComponent())
        guard FileManager.default.createFile(atPath: marker.path, contents: Data()) else {
            throw HubError.fileSystem(path: marker.path, detail: "cannot create the .no_exist marker")
        }
    }

    /// Whether `file` is recorded as absent at `commit`.
    func isKnownMissing(commit: String, file: String) -> Bool {
        FileManager.default.fileExists(atPath: noExistMarker(commit: commit, file: file).path)
    }

    /// A full 40-hex commit id (huggingface_hub's `REGEX_COMMIT_HASH`).
    static func isCommitHash(_ revision: String) -> Bool {
        revision.utf8.count == 40 && revision.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// The commit a revision names according to the cache: itself if it is a commit id,
    /// else the content of `refs/<revision>`; nil when unknown.
    func cachedCommit(for revision: String) -> String? {
        if HubCacheLayout.isCommitHash(revision) { return revision }
        let ref = refsFolder.appendingPathComponent(revision)
        guard let text = try? String(contentsOf: ref, encoding: .utf8) else { return nil }
        let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return HubCacheLayout.isCommitHash(commit) ? commit : nil
    }

    /// Records `revision → commit` in `refs/`, atomically (a temporary file renamed over the
    /// ref), and only when it changed — the cache may be shared read-only once populated.
    func recordRevision(_ revision: String, commit: String) throws {
        guard revision != commit else { return }
        let ref = refsFolder.appendingPathComponent(revision)
        if let current = try? String(contentsOf: ref, encoding: .utf8), current == commit { return }
        try createDirectory(ref.deletingLastPathComponent())
        let temporary = ref.deletingLastPathComponent()
            .appendingPathComponent("\(ref.lastPathComponent).\(UUID().uuidString.prefix(8)).tmp")
        do {
            try Data(commit.utf8).write(to: temporary)
            try replaceItem(at: ref, with: temporary)
        } catch let error as HubError {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw HubError.fileSystem(path: ref.path, detail: "\(error)")
        }
    }

    /// Points `snapshots/<commit>/<file>` at `blobs/<etag>` with a relative symlink
    /// (`../../blobs/<etag>`, one more `..` per folder level in `file`). The link is made under
    /// a temporary name and renamed into place, so a reader never sees a half-made entry.
    func linkSnapshotFile(commit: String, file: String, etag: String) throws {
        let pointer = pointer(commit: commit, file: file)
        let folder = pointer.deletingLastPathComponent()
        try createDirectory(folder)
        let depth = file.split(separator: "/").count - 1
        let target = String(repeating: "../", count: 2 + depth) + "blobs/" + etag
        let temporary = folder.appendingPathComponent(".\(pointer.lastPathComponent).\(UUID().uuidString.prefix(8)).tmp")
        if symlink(target, temporary.path) != 0 {
            throw HubError.fileSystem(path: temporary.path, detail: "cannot create symlink: \(String(cString: strerror(errno)))")
        }
        do {
            try replaceItem(at: pointer, with: temporary)
        } catch {
            _ = unlink(temporary.path)
            throw error
        }
    }

    /// Whether `snapshots/<commit>/<file>` exists and resolves to a readable file.
    func hasSnapshotFile(commit: String, file: String) -> Bool {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: pointer(commit: commit, file: file).path, isDirectory: &isDirectory)
        return exists && !isDirectory.boolValue
    }

    func createDirectory(_ url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw HubError.fileSystem(path: url.path, detail: "cannot create directory: \(error.localizedDescription)")
        }
    }

    /// `rename(2)`: atomic within one file system, replaces an existing destination.
    func replaceItem(at destination: URL, with source: URL) throws {
        if rename(source.path, destination.path) != 0 {
            throw HubError.fileSystem(path: destination.path,
                                      detail: "cannot move \(source.lastPathComponent) into place: \(String(cString: strerror(errno)))")
        }
    }
}
