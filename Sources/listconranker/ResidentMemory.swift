import Foundation

/// This process's memory use, from /proc/self/status (Linux); nil where that is unavailable.
enum ResidentMemory {
    /// The resident set now (VmRSS), in bytes.
    static func currentBytes() -> Int? { field("VmRSS:") }

    /// The largest resident set so far (VmHWM), in bytes.
    static func peakBytes() -> Int? { field("VmHWM:") }

    /// A `Name:   1234 kB` line of /proc/self/status, in bytes.
    private static func field(_ name: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }),
              let kibibytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return nil }
        return kibibytes * 1024
    }
}
