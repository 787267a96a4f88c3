import Foundation
import ListConRankerTensor

/// Why a checkpoint could not be opened or a tensor could not be read.
///
/// Every case names the file; its ``description`` says what was wrong and where
/// (the key, the byte offset, the shapes), so it can be shown to a user as is.
public struct CheckpointError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file (or directory) the problem is in.
    public let file: String
    /// What is wrong, without the file name.
    public let problem: String
    /// The message shown to users: it names the file and says what is wrong.
    public let description: String

    /// An error about `file`; `problem` says what is wrong with it. Reads "FILE: problem".
    public init(file: URL, _ problem: String) {
        self.file = file.path
        self.problem = problem
        self.description = "\(file.path): \(problem)"
    }

    /// An error whose message places the file itself: `message` gets the file's path
    /// (e.g. `{ "missing key \"pooler.dense.weight\" in \($0)" }`).
    public init(file: URL, problem: String, message: (String) -> String) {
        self.file = file.path
        self.problem = problem
        self.description = message(file.path)
    }
}

extension CheckpointError: LocalizedError {
    /// The same text as ``description``, so `localizedDescription` is useful too.
    public var errorDescription: String? { description }
}

/// Overflow-checked integer arithmetic for sizes and offsets read from files:
/// Swift traps on overflow, and a hostile file controls these numbers.
enum Checked {
    /// `a + b`, or nil on overflow.
    static func add(_ a: Int, _ b: Int) -> Int? {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : sum
    }

    /// `a * b`, or nil on overflow.
    static func multiply(_ a: Int, _ b: Int) -> Int? {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? nil : product
    }

    /// The product of `dims` (1 for none), or nil on overflow or a negative dimension.
    static func elementCount(_ dims: [Int]) -> Int? {
        var count = 1
        for dim in dims {
            guard dim >= 0, let next = multiply(count, dim) else { return nil }
            count = next
        }
        return count
    }

    /// A file-supplied unsigned 64-bit number as an `Int`, or nil if it does not fit.
    static func int(_ value: UInt64) -> Int? {
        value <= UInt64(Int.max) ? Int(value) : nil
    }
}
