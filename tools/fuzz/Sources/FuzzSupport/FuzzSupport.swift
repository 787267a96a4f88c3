import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Stops the run so that libFuzzer records the input: a harness invariant does not hold.
/// (A harness, not library code: aborting is how a finding is reported.)
public func invariantFailed(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    FileHandle.standardError.write(Data("fuzz invariant failed (\(file):\(line)): \(message)\n".utf8))
    abort()
}

/// Splits a fuzz input into up to `count` parts at NUL bytes: one input can then carry several
/// files (JSON never holds a raw NUL, so the separator cannot collide with a file's content).
/// Missing trailing parts are nil, so the mutator can also make a file absent.
public func splitAtNUL(_ bytes: [UInt8], count: Int) -> [[UInt8]?] {
    var parts: [[UInt8]?] = bytes.split(separator: 0, maxSplits: count - 1, omittingEmptySubsequences: false)
        .map { Array($0) }
    while parts.count < count { parts.append(nil) }
    return parts
}

/// A directory of its own for this process in memory-backed storage (`/dev/shm` where there
/// is one), for the readers whose entry point takes a path: writing a few kilobytes there per
/// input costs microseconds and no disk wear over millions of executions.
public final class ScratchDirectory: @unchecked Sendable {
    public let url: URL

    public init(_ name: String) {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        url = URL(fileURLWithPath: base).appendingPathComponent("listconranker-fuzz-\(name)-\(getpid())")
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            invariantFailed("cannot create the scratch directory \(url.path): \(error)")
        }
    }

    /// Writes `contents` as `name`, or removes `name` when `contents` is nil.
    @discardableResult
    public func place(_ name: String, _ contents: [UInt8]?) -> URL {
        let file = url.appendingPathComponent(name)
        if let contents {
            do { try Data(contents).write(to: file) } catch {
                invariantFailed("cannot write \(file.path): \(error)")
            }
        } else {
            unlink(file.path)
        }
        return file
    }
}
