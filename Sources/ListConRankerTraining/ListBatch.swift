/// A batch of lists for the list head: the mean-pooled encoder vectors of every text, list
/// after list (each list's query first), and the lists' lengths.
///
/// In stage 1 the encoder is frozen, so these vectors can be computed once and cached
/// (DESIGN §1.4); the batch holds them, not text.
public struct ListBatch: Sendable, Equatable {
    /// `[rows, hidden]`, row-major: list 0's query, its passages, list 1's query, …
    public let pooled: [Float]
    /// Encoder hidden size (columns of ``pooled``).
    public let hidden: Int
    /// Rows of each list, query included (each ≥ 2: a query and at least one passage).
    public let listLengths: [Int]

    /// Checks and makes a batch; throws if a list has no passage or the sizes disagree.
    public init(pooled: [Float], hidden: Int, listLengths: [Int]) throws {
        guard hidden > 0 else { throw TrainingError.invalidInput("hidden size must be positive, got \(hidden)") }
        guard !listLengths.isEmpty else { throw TrainingError.invalidInput("a batch needs at least one list") }
        guard listLengths.allSatisfy({ $0 >= 2 }) else {
            throw TrainingError.invalidInput("every list needs a query and at least one passage; lengths \(listLengths)")
        }
        let rows = listLengths.reduce(0, +)
        guard pooled.count == rows * hidden else {
            throw TrainingError.invalidInput("\(pooled.count) pooled values for \(rows) rows of \(hidden)")
        }
        self.pooled = pooled
        self.hidden = hidden
        self.listLengths = listLengths
    }

    /// Total rows (texts).
    public var rows: Int { listLengths.reduce(0, +) }
    /// Total passages (rows less one query per list): the number of logits.
    public var passageCount: Int { rows - listLengths.count }
    /// Each list's rows.
    public var segments: [Range<Int>] {
        var result: [Range<Int>] = []
        var start = 0
        for length in listLengths {
            result.append(start..<start + length)
            start += length
        }
        return result
    }
}
