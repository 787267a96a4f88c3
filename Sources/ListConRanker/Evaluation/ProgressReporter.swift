import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A one-line progress bar with rate and time left, redrawn in place on standard error.
///
/// It draws only when standard error is a terminal (logs and pipes stay clean) unless given
/// another ``Destination``. Redraws are limited to a few per second, so calling
/// ``advance(by:)`` for every item costs little. Usable for any count: samples, texts, bytes.
public final class ProgressReporter {
    /// Where the bar goes.
    public enum Destination: Sendable {
        /// Standard error, when it is a terminal; nowhere otherwise.
        case standardErrorIfTerminal
        /// Nowhere.
        case none
        /// A function that receives each rendered line (without `\r` or newline); for tests
        /// and for callers with their own display.
        case custom(@Sendable (String) -> Void)
    }

    /// What is being counted, which decides how counts and rates are printed.
    public enum Unit: Sendable, Equatable {
        /// Items with a name, as "queries": `12/100 queries, 3.2 queries/s`.
        case items(String)
        /// Bytes: `12.0/100.0 MB, 3.2 MB/s`.
        case bytes
    }

    private let label: String
    private let total: Int
    private let unit: Unit
    private let sink: ((String) -> Void)?
    private let clock: () -> Double
    private let startTime: Double
    /// Items done before this reporter started (resumed work); they do not count toward the rate.
    private let initialCompleted: Int
    private var lastDrawTime: Double = -.infinity
    private var lastLineLength = 0
    private var writesToTerminal = false

    /// Items completed so far (including ``initialCompleted``).
    public private(set) var completed: Int

    /// A reporter for `total` items, of which `initialCompleted` are already done.
    ///
    /// - Parameter clock: seconds from any fixed origin; defaults to a monotonic clock.
    public init(
        label: String,
        total: Int,
        unit: Unit = .items("items"),
        initialCompleted: Int = 0,
        destination: Destination = .standardErrorIfTerminal,
        clock: (() -> Double)? = nil
    ) {
        self.label = label
        self.total = max(total, 0)
        self.unit = unit
        self.initialCompleted = initialCompleted
        self.completed = initialCompleted
        self.clock = clock ?? ProgressReporter.monotonicSeconds
        self.startTime = self.clock()
        switch destination {
        case .none:
            sink = nil
        case .custom(let function):
            sink = function
        case .standardErrorIfTerminal:
            if isatty(STDERR_FILENO) == 1 {
                writesToTerminal = true
                sink = { FileHandle.standardError.write(Data($0.utf8)) }
            } else {
                sink = nil
            }
        }
    }

    /// Whether anything is drawn at all.
    public var isActive: Bool { sink != nil }

    /// Records `count` more items done and redraws when the last redraw is old enough.
    public func advance(by count: Int = 1) {
        update(completed: completed + count)
    }

    /// Records the total done so far and redraws when the last redraw is old enough.
    public func update(completed newValue: Int) {
        completed = newValue
        guard sink != nil else { return }
        let now = clock()
        if now - lastDrawTime >= 0.1 || completed >= total {
            draw(now: now)
        }
    }

    /// Draws the final state and ends the line, so later output starts on a fresh line.
    public func finish() {
        guard let sink else { return }
        draw(now: clock())
        if writesToTerminal { sink("\n") }
    }

    private func draw(now: Double) {
        guard let sink else { return }
        lastDrawTime = now
        let line = Self.render(
            label: label, completed: completed, total: total, unit: unit,
            newlyCompleted: completed - initialCompleted, elapsed: now - startTime)
        if writesToTerminal {
            // Overwrite the previous line in place; pad in case the new one is shorter.
            let padding = String(repeating: " ", count: max(lastLineLength - line.count, 0))
            sink("\r" + line + padding)
            lastLineLength = line.count
        } else {
            sink(line)
        }
    }

    /// The text of one progress line, e.g.
    /// `eval [########------------]  40/100 queries  40%  2.5 queries/s  ETA 0:24  elapsed 0:16`.
    ///
    /// The rate counts only items completed since the start (`newlyCompleted`), so resumed
    /// work does not make the estimate optimistic.
    public static func render(
        label: String, completed: Int, total: Int, unit: Unit, newlyCompleted: Int, elapsed: Double
    ) -> String {
        let barWidth = 24
        let fraction = total > 0 ? min(max(Double(completed) / Double(total), 0), 1) : 1
        let filled = Int((fraction * Double(barWidth)).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: barWidth - filled)
        var parts = ["\(label) [\(bar)]", count(completed, of: total, unit: unit), "\(Int((fraction * 100).rounded(.down)))%"]
        let rate = elapsed > 0 ? Double(newlyCompleted) / elapsed : 0
        if newlyCompleted > 0 && rate > 0 {
            parts.append(rateText(rate, unit: unit))
            let remaining = Double(max(total - completed, 0)) / rate
            parts.append("ETA \(duration(remaining))")
        } else {
            parts.append("ETA --")
        }
        parts.append("elapsed \(duration(elapsed))")
        return parts.joined(separator: "  ")
    }

    private static func count(_ completed: Int, of total: Int, unit: Unit) -> String {
        switch unit {
        case .items(let name):
            return "\(completed)/\(total) \(name)"
        case .bytes:
            return "\(megabytes(completed))/\(megabytes(total)) MB"
        }
    }

    private static func rateText(_ rate: Double, unit: Unit) -> String {
        switch unit {
        case .items(let name):
            // Slow work (a model scoring a long list) reads better as seconds per item.
            return rate >= 1 ? "\(oneDecimal(rate)) \(name)/s" : "\(oneDecimal(1 / rate)) s/\(singular(name))"
        case .bytes:
            return "\(oneDecimal(rate / 1_000_000)) MB/s"
        }
    }

    private static func singular(_ name: String) -> String {
        if name.hasSuffix("ies") { return String(name.dropLast(3)) + "y" }
        if name.hasSuffix("s") { return String(name.dropLast()) }
        return name
    }

    private static func megabytes(_ bytes: Int) -> String { oneDecimal(Double(bytes) / 1_000_000) }

    private static func oneDecimal(_ value: Double) -> String {
        guard value.isFinite, abs(value) < 1e15 else { return "--" }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    /// `h:mm:ss`, or `m:ss` under an hour.
    static func duration(_ seconds: Double) -> String {
        // Past ~30 years an estimate says nothing (and would overflow Int).
        guard seconds.isFinite, seconds >= 0, seconds < 1e9 else { return "--" }
        let whole = Int(seconds.rounded())
        let (hours, minutes, secs) = (whole / 3600, (whole % 3600) / 60, whole % 60)
        let twoDigits = { (value: Int) in value < 10 ? "0\(value)" : "\(value)" }
        return hours > 0 ? "\(hours):\(twoDigits(minutes)):\(twoDigits(secs))" : "\(minutes):\(twoDigits(secs))"
    }

    private static func monotonicSeconds() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }
}
