import Foundation

/// Why a training operation refused its input or failed: bad files, inconsistent shapes,
/// lists that cannot be scored, or a failed matrix product. Every case says what and where.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// A weight file lacks a key, has a wrong shape, or is otherwise unusable.
    case badWeights(String)
    /// The caller's input does not fit (shapes, list lengths, labels, hyper-parameters).
    case invalidInput(String)
    /// A file could not be written.
    case writeFailed(String)
    /// A compute-library call failed.
    case computeFailed(String)

    /// A one-line account for people.
    public var description: String {
        switch self {
        case .badWeights(let message): return "bad weights: \(message)"
        case .invalidInput(let message): return "invalid input: \(message)"
        case .writeFailed(let message): return "write failed: \(message)"
        case .computeFailed(let message): return "compute failed: \(message)"
        }
    }
}
