import Foundation
import ListConRankerDistributed

/// What the ``Trainer`` does differently when a job has several ranks (DESIGN §11): each rank
/// takes a contiguous share of every global batch, the gradients (each already divided by the
/// global list count) are summed across ranks before clipping and AdamW (``GradientSum``), so
/// every rank takes the step one process would. Rank 0 alone touches the output
/// directory; what it reads there (the checks, the state to resume) reaches the others by broadcast.
enum DataParallel {
    /// `body`'s result on rank 0, sent to every rank (the others do not run it). A throw on rank 0
    /// ends the job (the command aborts it), so the others never wait for a result that will not come.
    static func rootResult<T: Codable>(_ ranks: Communicator, _ body: () throws -> T) throws -> T {
        guard ranks.isDistributed else { return try body() }
        var bytes: [UInt8] = []
        if ranks.isRoot {
            let value = try body()
            bytes = [UInt8](try JSONEncoder().encode([value]))
        }
        try ranks.broadcast(&bytes)
        if ranks.isRoot { return try JSONDecoder().decode([T].self, from: Data(bytes))[0] }
        do { return try JSONDecoder().decode([T].self, from: Data(bytes))[0] } catch {
            throw DistributedError.ranksDisagree("rank 0 sent an unreadable \(T.self): \(error)")
        }
    }

    /// The training state rank 0 reads, on every rank.
    static func broadcastState(_ ranks: Communicator, _ read: () throws -> TrainingStateFile) throws -> TrainingStateFile {
        guard ranks.isDistributed else { return try read() }
        var state = ranks.isRoot ? try read() : TrainingStateFile(header: try rootHeaderPlaceholder(), parameters: [],
                                                                   firstMoments: [], secondMoments: [])
        state.header = try rootResult(ranks) { state.header }
        try ranks.broadcast(&state.parameters)
        try ranks.broadcast(&state.firstMoments)
        try ranks.broadcast(&state.secondMoments)
        return state
    }

    /// A header the non-root ranks hold until rank 0's arrives (never used).
    private static func rootHeaderPlaceholder() throws -> TrainingStateFile.Header {
        TrainingStateFile.Header(configuration: TrainingConfiguration(), start: "", dataDigest: "", step: 0, totalSteps: 0,
                                 parameterCount: 0)
    }

    /// Throws unless every rank holds bit-identical parameters (a 64-bit FNV-1a digest of their
    /// bit patterns, compared across ranks): the data-parallel promise, checked at each save.
    static func requireSameWeights(_ ranks: Communicator, _ blocks: [Float]...) throws {
        guard ranks.isDistributed else { return }
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for block in blocks {
            block.withUnsafeBufferPointer { values in
                for value in values {
                    hash = (hash ^ UInt64(value.bitPattern)) &* 0x0000_0100_0000_01B3
                }
            }
        }
        try ranks.requireSame(String(hash, radix: 16), what: "the weights after this step")
    }

    /// The dropout stream's key of the micro-batch whose first list is `first` in the global
    /// batch: its index among the batch's micro-batches when it starts on a multiple of the
    /// micro-batch size (always for one process, so its seeds are the historical ones; with N
    /// ranks whenever each share is whole micro-batches), else a key of its own. So a job whose
    /// shares are whole micro-batches draws one process's dropout masks, and its weights match one
    /// process's with dropout on.
    static func dropoutKey(first: Int, microBatchSize: Int) -> UInt64 {
        first % microBatchSize == 0 ? UInt64(first / microBatchSize) : (1 << 40) | UInt64(first)
    }
}
