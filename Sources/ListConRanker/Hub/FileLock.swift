import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive advisory lock on a file (`flock(2)`), the same kind Python's `filelock`
/// takes on `.locks/…/<etag>.lock`: a Swift and a Python process — or two of either —
/// never write the same blob at once.
final class FileLock {
    private let descriptor: Int32
    let url: URL

    private init(descriptor: Int32, url: URL) {
        self.descriptor = descriptor
        self.url = url
    }

    /// Takes the lock, polling without blocking a thread while another holder has it.
    static func acquire(_ url: URL, pollInterval: Duration = .milliseconds(50)) async throws -> FileLock {
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw HubError.fileSystem(path: url.deletingLastPathComponent().path, detail: "cannot create lock folder: \(error.localizedDescription)")
        }
        let descriptor = open(url.path, O_RDWR | O_CREAT, 0o644)
        guard descriptor >= 0 else {
            throw HubError.fileSystem(path: url.path, detail: "cannot open lock file: \(String(cString: strerror(errno)))")
        }
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            guard code == EWOULDBLOCK || code == EINTR else {
                close(descriptor)
                throw HubError.fileSystem(path: url.path, detail: "cannot lock: \(String(cString: strerror(code)))")
            }
            do {
                try await Task.sleep(for: pollInterval)
            } catch {
                close(descriptor)
                throw error
            }
        }
        return FileLock(descriptor: descriptor, url: url)
    }

    /// Releases the lock (closing the descriptor drops it too; the file stays, as with filelock).
    func release() {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
