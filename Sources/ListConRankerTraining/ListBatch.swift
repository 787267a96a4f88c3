/// A batch of lists for the list head: the mean-pooled encoder vectors of every text, list
/// after list (each list's query first), and the lists' lengths.
///
/// In stage 1 the encoder is frozen, so these vectors can be computed once and cached
/// (DESIGN §1.4); the batch holds them, not text.
public struct ListBatch: Sendable, Equatable {
    /// `[rows, hidden]`, row-major: list 0's query, its passages, list 1's query, …
    public let pooled: [Float]
    /// Its lists' rows and the vectors' width, without the vectors.
    let lists: ListRows
    /// Encoder hidden size (columns of ``pooled``).
    public var hidden: Int { lists.hidden }
    /// Rows of each list, query included (each ≥ 2: a query and at least one passage).
    public var listLengths: [Int] { lists.listLengths }

    /// Checks and makes a batch; throws if a list has no passage or the sizes disagree.
    public init(pooled: [Float], hidden: Int, listLengths: [Int]) throws {
        lists = try ListRows(listLengths: listLengths, hidden: hidden)
        try lists.checkVectors(count: pooled.count)
        self.pooled = pooled
    }

    /// Total rows (texts).
    public var rows: Int { lists.rows }
    /// Total passages (rows less one query per list): the number of logits.
    public var passageCount: Int { lists.passageCount }
    /// Each list's rows.
    public var segments: [Range<Int>] { lists.segments }
}

/// The rows of a batch of lists without their vectors: each list's length (its query and
/// passages) and the vectors' width. What the list head's passes need of a ``ListBatch`` when the
/// vectors are already on the device (stage 2's pooled encoder outputs, which never leave it).
struct ListRows: Sendable, Equatable {
    /// Rows of each list, query included (each ≥ 2).
    let listLengths: [Int]
    /// The pooled vectors' width.
    let hidden: Int

    /// Checks the lengths (at least one list, each with a query and a passage) and the width.
    init(listLengths: [Int], hidden: Int) throws {
        guard hidden > 0 else { throw TrainingError.invalidInput("hidden size must be positive, got \(hidden)") }
        guard !listLengths.isEmpty else { throw TrainingError.invalidInput("a batch needs at least one list") }
        guard listLengths.allSatisfy({ $0 >= 2 }) else {
            throw TrainingError.invalidInput("every list needs a query and at least one passage; lengths \(listLengths)")
        }
        self.listLengths = listLengths
        self.hidden = hidden
    }

    /// Total rows (texts).
    var rows: Int { listLengths.reduce(0, +) }
    /// Total passages (rows less one query per list): the number of logits.
    var passageCount: Int { rows - listLengths.count }
    /// Each list's rows.
    var segments: [Range<Int>] {
        var result: [Range<Int>] = []
        var start = 0
        for length in listLengths {
            result.append(start..<start + length)
            start += length
        }
        return result
    }

    /// Checks that `count` values are `rows` vectors of `hidden`.
    func checkVectors(count: Int) throws {
        guard count == rows * hidden else {
            throw TrainingError.invalidInput("\(count) pooled values for \(rows) rows of \(hidden)")
        }
    }
}
