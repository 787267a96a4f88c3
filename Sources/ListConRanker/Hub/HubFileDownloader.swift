import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What the hub's HEAD answer says about one file at one commit.
struct HubFileMetadata: Sendable, Equatable {
    /// The blob name: the sha256 of an LFS file, the git sha1 of a small one.
    let etag: String
    /// The size in bytes, when announced.
    let size: Int64?
    /// Where the bytes are: the CDN URL of a redirect, or the resolve URL itself.
    let location: URL

    /// An LFS etag is the file's sha256, which the download is checked against.
    var sha256: String? {
        etag.utf8.count == 64 && etag.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) } ? etag : nil
    }

    /// huggingface_hub's `_normalize_etag`: drops a weak-validator `W/` prefix and the quotes.
    static func normalizeETag(_ raw: String) -> String {
        var value = Substring(raw.trimmingCharacters(in: .whitespaces))
        if value.hasPrefix("W/") { value = value.dropFirst(2) }
        return value.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }
}

/// Fetches one file of one commit into the cache: blob, checks, snapshot link.
struct HubFileDownloader: Sendable {
    let requests: HubRequests
    let layout: HubCacheLayout
    let progress: (any DownloadProgressReporting)?

    /// Makes `snapshots/<commit>/<file>` exist, downloading its blob unless some earlier
    /// download (by this program or by huggingface_hub) already holds it.
    func fetch(file: String, commit: String) async throws {
        if layout.hasSnapshotFile(commit: commit, file: file) { return }
        let metadata = try await self.metadata(file: file, commit: commit)
        let blob = layout.blob(etag: metadata.etag)
        if !FileManager.default.fileExists(atPath: blob.path) {
            let lock = try await FileLock.acquire(layout.lock(etag: metadata.etag))
            defer { lock.release() }
            // Another process may have finished this blob while we waited for the lock.
            if !FileManager.default.fileExists(atPath: blob.path) {
                try layout.createDirectory(layout.blobsFolder)
                try await download(file: file, metadata: metadata)
            }
        }
        try layout.linkSnapshotFile(commit: commit, file: file, etag: metadata.etag)
    }

    /// HEAD on the resolve URL without following the CDN redirect, as huggingface_hub's
    /// `get_hf_file_metadata`: the etag (`X-Linked-Etag`, else `ETag`), the size
    /// (`X-Linked-Size`, else `Content-Length` of a non-redirect) and the `Location`.
    func metadata(file: String, commit: String) async throws -> HubFileMetadata {
        let url = try requests.resolveURL(commit: commit, file: file)
        let response: HubHTTPResponse
        let body: Data
        do {
            (response, body) = try await requests.client.send(requests.request(url, method: "HEAD"), redirects: .sameOrigin)
        } catch let error as HubTransportError {
            throw requests.networkError(error)
        }
        let isRedirect = (300...399).contains(response.status)
        guard response.status == 200 || isRedirect else {
            throw requests.statusError(response, body: body, revision: commit)
        }
        guard let rawETag = response.header("X-Linked-Etag") ?? response.header("ETag") else {
            throw HubError.malformedResponse(url: url.absoluteString, detail: "no ETag header for \(file), so the download cannot be named or checked")
        }
        let etag = HubFileMetadata.normalizeETag(rawETag)
        guard !etag.isEmpty, !etag.contains("/"), etag != ".", etag != ".." else {
            throw HubError.malformedResponse(url: url.absoluteString, detail: "unusable ETag '\(rawETag)' for \(file)")
        }
        let sizeText = response.header("X-Linked-Size") ?? (isRedirect ? nil : response.header("Content-Length"))
        var location = response.url
        if isRedirect {
            guard let target = response.header("Location"), let resolved = URL(string: target, relativeTo: response.url)?.absoluteURL else {
                throw HubError.malformedResponse(url: url.absoluteString, detail: "redirect without a usable Location for \(file)")
            }
            location = resolved
        }
        return HubFileMetadata(etag: etag, size: sizeText.flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) },
                               location: location)
    }

    /// Streams the file into `blobs/<etag>.incomplete` (resuming what is there), checks size and
    /// sha256, then renames it to `blobs/<etag>`. A failed check deletes the partial file.
    private func download(file: String, metadata: HubFileMetadata) async throws {
        let partial = layout.incompleteBlob(etag: metadata.etag)
        let attempts = requests.configuration.attemptsPerFile
        var onDisk = fileSize(partial) ?? 0
        if let expected = metadata.size, onDisk > expected {
            try removeFile(partial)
            onDisk = 0
        }
        progress?.downloadStarted(file: file, totalBytes: metadata.size, resumedBytes: onDisk)
        var succeeded = false
        defer {
            let bytes = succeeded ? fileSize(layout.blob(etag: metadata.etag)) : fileSize(partial)
            progress?.downloadFinished(file: file, bytesOnDisk: bytes ?? 0, succeeded: succeeded)
        }

        var attempt = 0
        while metadata.size == nil || onDisk < (metadata.size ?? 0) {
            attempt += 1
            do {
                try await transfer(file: file, metadata: metadata, into: partial, resumingAt: onDisk)
                break
            } catch let error as HubTransportError {
                // A cancelled task surfaces as a transport error: stop, do not retry.
                try Task.checkCancellation()
                onDisk = fileSize(partial) ?? 0
                guard attempt < attempts else {
                    throw HubError.transferInterrupted(file: file, received: onDisk, expected: metadata.size,
                                                       partialFile: partial.path, detail: error.detail)
                }
            } catch RangeRejected.restart {
                try removeFile(partial)
                onDisk = 0
                guard attempt < attempts else {
                    throw HubError.malformedResponse(url: metadata.location.absoluteString,
                                                     detail: "the server refused to resume \(file) (HTTP 416)")
                }
            } catch let error as HubError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                // Opening, seeking or writing the partial file failed.
                throw HubError.fileSystem(path: partial.path, detail: error.localizedDescription)
            }
        }

        let actual = fileSize(partial) ?? 0
        if let expected = metadata.size, actual != expected {
            try removeFile(partial)
            throw HubError.sizeMismatch(file: file, expected: expected, actual: actual)
        }
        if let expectedHash = metadata.sha256 {
            let actualHash: String
            do {
                actualHash = try SHA256.hexDigest(ofFileAt: partial)
            } catch {
                throw HubError.fileSystem(path: partial.path, detail: "cannot read back the download: \(error.localizedDescription)")
            }
            if actualHash != expectedHash {
                try removeFile(partial)
                throw HubError.checksumMismatch(file: file, expected: expectedHash, actual: actualHash)
            }
        }
        try layout.replaceItem(at: layout.blob(etag: metadata.etag), with: partial)
        succeeded = true
    }

    /// The server answered 416 to a Range request: what is on disk cannot be resumed.
    private enum RangeRejected: Error { case restart }

    /// One HTTP GET appending to `partial`. A 206 continues at `offset`; a 200 (the server
    /// ignored the Range) starts the file over.
    private func transfer(file: String, metadata: HubFileMetadata, into partial: URL, resumingAt offset: Int64) async throws {
        if !FileManager.default.fileExists(atPath: partial.path) {
            guard FileManager.default.createFile(atPath: partial.path, contents: nil) else {
                throw HubError.fileSystem(path: partial.path, detail: "cannot create the download file")
            }
        }
        let state = TransferState()
        defer { state.close() }
        let reporter = progress
        let request = requests.request(metadata.location, rangeStart: offset)
        let (response, body) = try await requests.client.download(
            request, redirects: .all,
            destination: { response in
                let handle: FileHandle
                switch response.status {
                case 206:
                    guard HubFileDownloader.contentRangeStart(response.header("Content-Range")) == offset else {
                        throw HubError.malformedResponse(url: response.url.absoluteString,
                                                         detail: "resumed \(file) at the wrong offset (Content-Range \(response.header("Content-Range") ?? "missing"), wanted \(offset))")
                    }
                    handle = try FileHandle(forWritingTo: partial)
                    try handle.seek(toOffset: UInt64(offset))
                    state.base = offset
                case 200:
                    handle = try FileHandle(forWritingTo: partial)
                    try handle.truncate(atOffset: 0)
                    state.base = 0
                default:
                    return nil
                }
                state.handle = handle
                return handle
            },
            progress: { written in
                reporter?.downloadProgressed(file: file, bytesOnDisk: state.base + written, totalBytes: metadata.size)
            })
        switch response.status {
        case 200, 206:
            return
        case 416:
            throw RangeRejected.restart
        default:
            throw requests.statusError(response, body: body, revision: "")
        }
    }

    /// The first byte position of `Content-Range: bytes START-END/TOTAL`.
    static func contentRangeStart(_ header: String?) -> Int64? {
        guard let header, let range = header.split(separator: " ").last,
              let start = range.split(separator: "-").first else { return nil }
        return Int64(start)
    }

    private func fileSize(_ url: URL) -> Int64? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
              let size = attributes[.size] as? NSNumber else { return nil }
        return size.int64Value
    }

    private func removeFile(_ url: URL) throws {
        do {
            if FileManager.default.fileExists(atPath: url.path) { try FileManager.default.removeItem(at: url) }
        } catch {
            throw HubError.fileSystem(path: url.path, detail: "cannot remove: \(error.localizedDescription)")
        }
    }
}

/// The open file and starting offset of one transfer, set by the response callback and read by
/// the progress callback — both on the same serial delegate queue.
private final class TransferState: @unchecked Sendable {
    var handle: FileHandle?
    var base: Int64 = 0

    func close() {
        try? handle?.close()
        handle = nil
    }
}
