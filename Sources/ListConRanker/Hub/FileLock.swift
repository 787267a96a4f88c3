import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive advisory lock on a file (`flock(2)`), the same kind Python's `filelock`
/// takes on `.locks/…/<etag>.lock`: a Swift and a Python process — or two of either —
/// never write the same blob at once. The training feature cache takes the same kind of lock.
/// Two descriptors of one process exclude each other too (`flock` locks belong to the open file),
/// and the kernel drops the lock of a process that dies.
public final class FileLock {
    private let descriptor: Int32
    /// The lock file.
    public let url: URL

    private init(descriptor: Int32, url: URL) {
        self.descriptor = descriptor
        self.url = url
    }

    /// Takes the lock, polling without blocking a thread while another holder has it.
    public static func acquire(_ url: URL, pollInterval: Duration = .milliseconds(50)) async throws -> FileLock {
        let descriptor = try openLockFile(url)
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

    /// Takes the lock, blocking the calling thread while another holder has it (for synchronous
    /// code such as training, which holds no pool thread another task needs). `waiting` is called
    /// once, before blocking, when another holder has the lock.
    public static func acquireBlocking(_ url: URL, waiting: (() -> Void)? = nil) throws -> FileLock {
        let descriptor = try openLockFile(url)
        var told = false
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            guard code == EWOULDBLOCK else {
                close(descriptor)
                throw HubError.fileSystem(path: url.path, detail: "cannot lock: \(String(cString: strerror(code)))")
            }
            if !told {
                waiting?()
                told = true
            }
            if flock(descriptor, LOCK_EX) == 0 { break }
            if errno != EINTR {
                let code = errno
                close(descriptor)
                throw HubError.fileSystem(path: url.path, detail: "cannot lock: \(String(cString: strerror(code)))")
            }
        }
        return FileLock(descriptor: descriptor, url: url)
    }

    private static func openLockFile(_ url: URL) throws -> Int32 {
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw HubError.fileSystem(path: url.deletingLastPathComponent().path, detail: "cannot create lock folder: \(error.localizedDescription)")
        }
        let descriptor = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw HubError.fileSystem(path: url.path, detail: "cannot open lock file: \(String(cString: strerror(errno)))")
        }
        return descriptor
    }

    /// Releases the lock (closing the descriptor drops it too; the file stays, as with filelock).
    public func release() {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
