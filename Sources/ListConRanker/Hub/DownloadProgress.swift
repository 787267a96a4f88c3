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

/// A one-line progress bar with transfer speed, drawn on standard error, for large files only.
///
/// ```
/// model.safetensors  [#########...........]  45%  612.3 MB / 1.34 GB  48.1 MB/s
/// ```
public final class TerminalProgressBar: DownloadProgressReporting, @unchecked Sendable {
    /// Files smaller than this are fetched silently.
    public let minimumBytes: Int64
    private let lock = NSLock()
    private var startTime: Date?
    private var startBytes: Int64 = 0
    private var lastDraw: Date = .distantPast
    private var lastBytesAt: Date?

    /// A bar for files of at least `minimumBytes` (default 10 MB).
    public init(minimumBytes: Int64 = 10_000_000) {
        self.minimumBytes = minimumBytes
    }

    /// A bar when standard error is a terminal, nil otherwise (logs and pipes stay clean).
    public static func ifStandardErrorIsTerminal() -> TerminalProgressBar? {
        isatty(STDERR_FILENO) == 1 ? TerminalProgressBar() : nil
    }

    /// Starts timing a file's transfer; the speed counts only bytes fetched now, not resumed ones.
    public func downloadStarted(file: String, totalBytes: Int64?, resumedBytes: Int64) {
        lock.withLock {
            startTime = Date()
            startBytes = resumedBytes
            lastDraw = .distantPast
            lastBytesAt = nil
        }
    }

    /// Redraws the bar (at most ten times a second) for files of at least ``minimumBytes``.
    public func downloadProgressed(file: String, bytesOnDisk: Int64, totalBytes: Int64?) {
        guard let total = totalBytes, total >= minimumBytes else { return }
        let line: String? = lock.withLock {
            let now = Date()
            lastBytesAt = now
            // Redraw at most ten times a second: a terminal write per network packet would cost more than the download.
            guard now.timeIntervalSince(lastDraw) >= 0.1 else { return nil }
            lastDraw = now
            let elapsed = now.timeIntervalSince(startTime ?? now)
            let speed = elapsed > 0 ? Double(bytesOnDisk - startBytes) / elapsed : 0
            return TerminalProgressBar.render(file: file, bytes: bytesOnDisk, total: total, bytesPerSecond: speed)
        }
        if let line { write("\r" + line) }
    }

    /// Draws the final state of the bar and ends its line.
    public func downloadFinished(file: String, bytesOnDisk: Int64, succeeded: Bool) {
        let line: String? = lock.withLock {
            guard let startTime, bytesOnDisk >= minimumBytes else { return nil }
            // The speed of the transfer itself: the checksum pass after the last byte is not network time.
            let elapsed = (lastBytesAt ?? Date()).timeIntervalSince(startTime)
            let speed = elapsed > 0 ? Double(bytesOnDisk - startBytes) / elapsed : 0
            return TerminalProgressBar.render(file: file, bytes: bytesOnDisk, total: bytesOnDisk, bytesPerSecond: speed)
        }
        if let line { write("\r" + line + (succeeded ? "\n" : "  (stopped)\n")) }
    }

    /// One line of the bar (no carriage return).
    public static func render(file: String, bytes: Int64, total: Int64, bytesPerSecond: Double) -> String {
        let fraction = total > 0 ? min(1, max(0, Double(bytes) / Double(total))) : 0
        let width = 20
        let filled = Int((fraction * Double(width)).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let percent = String(format: "%3d%%", Int((fraction * 100).rounded(.down)))
        return "\(file)  [\(bar)] \(percent)  \(formatBytes(Double(bytes))) / \(formatBytes(Double(total)))"
            + "  \(formatBytes(bytesPerSecond))/s"
    }

    /// Decimal units, as the hub and huggingface_hub's tqdm show sizes.
    public static func formatBytes(_ bytes: Double) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = max(0, bytes)
        var unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(Int(value)) B" : String(format: "%.1f", value) + " " + units[unit]
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
