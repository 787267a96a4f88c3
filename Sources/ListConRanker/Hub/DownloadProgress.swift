import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Receives the progress of each file the resolver downloads.
///
/// Calls for one file arrive in order (started, any number of progressed, then finished),
/// from a background queue.
public protocol DownloadProgressReporting: Sendable {
    /// A transfer begins: `totalBytes` is the file's full size when known; `resumedBytes` were
    /// already on disk from an earlier, interrupted attempt.
    func downloadStarted(file: String, totalBytes: Int64?, resumedBytes: Int64)
    /// `bytesOnDisk` of the file (resumed part included) are now on disk.
    func downloadProgressed(file: String, bytesOnDisk: Int64, totalBytes: Int64?)
    /// The transfer ended, successfully or not.
    func downloadFinished(file: String, bytesOnDisk: Int64, succeeded: Bool)
}

/// The download progress bar: a ``ProgressReporter`` counting bytes, one per file, for large
/// files only.
///
/// ```
/// model.safetensors [##########--------------]  612.3/1340.0 MB  45%  48.1 MB/s  ETA 0:15  elapsed 0:12
/// ```
public final class TerminalProgressBar: DownloadProgressReporting, @unchecked Sendable {
    /// Files smaller than this are fetched silently.
    public let minimumBytes: Int64
    private let destination: ProgressReporter.Destination
    private let lock = NSLock()
    private var bar: ProgressReporter?

    /// A bar for files of at least `minimumBytes` (default 10 MB), drawn to `destination`.
    public init(minimumBytes: Int64 = 10_000_000, destination: ProgressReporter.Destination = .standardErrorIfTerminal) {
        self.minimumBytes = minimumBytes
        self.destination = destination
    }

    /// A bar when standard error is a terminal, nil otherwise (logs and pipes stay clean).
    public static func ifStandardErrorIsTerminal() -> TerminalProgressBar? {
        isatty(STDERR_FILENO) == 1 ? TerminalProgressBar() : nil
    }

    /// Starts a bar for a large file; the rate counts only bytes fetched now, not resumed ones.
    public func downloadStarted(file: String, totalBytes: Int64?, resumedBytes: Int64) {
        lock.withLock {
            guard let total = totalBytes, total >= minimumBytes else { return bar = nil }
            bar = ProgressReporter(label: file, total: Int(total), unit: .bytes,
                                   initialCompleted: Int(resumedBytes), destination: destination)
        }
    }

    /// Redraws the bar (the reporter limits redraws to ten a second).
    public func downloadProgressed(file: String, bytesOnDisk: Int64, totalBytes: Int64?) {
        lock.withLock { bar?.update(completed: Int(bytesOnDisk)) }
    }

    /// Draws the final state of the bar and ends its line.
    public func downloadFinished(file: String, bytesOnDisk: Int64, succeeded: Bool) {
        lock.withLock {
            bar?.update(completed: Int(bytesOnDisk))
            bar?.finish()
            bar = nil
        }
    }
}
