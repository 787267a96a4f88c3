import Foundation

/// This process's memory use, from /proc/self/status (Linux); nil where that is unavailable.
enum ResidentMemory {
    /// The resident set now (VmRSS), in bytes.
    static func currentBytes() -> Int? { field("VmRSS:") }

    /// The largest resident set so far (VmHWM), in bytes.
    static func peakBytes() -> Int? { field("VmHWM:") }

    /// A `Name:   1234 kB` line of /proc/self/status, in bytes.
    private static func field(_ name: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        return field(name, in: status)
    }

    /// The field `name` of a /proc status text, in bytes. The kernel pads the number to 8 columns
    /// after a tab (`VmHWM:\t  123456 kB`), so from 10 GiB on no space precedes it: split on
    /// tabs too, or a peak over 10 GiB reads as nothing.
    static func field(_ name: String, in status: String) -> Int? {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }),
              let kibibytes = Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "")
        else { return nil }
        return kibibytes * 1024
    }
}
