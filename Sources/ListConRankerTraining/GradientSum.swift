import Foundation
import ListConRankerDistributed

/// A step's gradients summed over its micro-batches and over the ranks of a job, in double
/// precision, then rounded once to fp32: so the sum is the same (to the last bit, in all but
/// pathological cases) however the batch is split — over 1 or N ranks, in any micro-batches.
///
/// Why double: AdamW divides each gradient by its own running magnitude, so a gradient that is
/// zero in theory and rounding noise in practice (a key bias's: softmax ignores it) moves its
/// weight by up to the learning rate whatever the noise's size. Summed in fp32 in another order
/// (one process: micro-batch after micro-batch; two ranks: two partial sums, then theirs) that
/// noise differs, and so did those weights, by 1e-5 after 10 steps on the tiny model. Summed in
/// double, fp32 partial gradients add up exactly (their exponents rarely span 29 bits), and
/// every split rounds the same sum.
///
/// Stage 2 over several ranks overlaps the all-reduce with the backward, as PyTorch's DDP does:
/// the gradients are cut into buckets — the list head, then each encoder layer from the last
/// down, then the embeddings, the order in which the last micro-batch's backward completes them —
/// and a communication thread sums each bucket across ranks as soon as it is complete, while the
/// backward goes on below. Every rank submits the same buckets in the same order (a rank with an
/// empty share submits them all at ``finish(head:encoder:loss:)``), as MPI's collectives require.
final class GradientSum: @unchecked Sendable {
    private let communicator: Communicator
    private let headCount: Int
    private let total: Int
    /// The buckets in submission order, as ranges of the flat (head, then encoder) values.
    private let buckets: [Range<Int>]
    /// The double sums, head then encoder.
    private let sums: UnsafeMutablePointer<Double>
    private let overlaps: Bool
    private let condition = NSCondition()
    private var queued: [Int] = []
    private var submitted = 0
    private var reduced = 0
    private var failure: Error?
    private var stopping = false

    /// Sums for a head of `headCount` values and, in stage 2, the encoder's `layout`. `overlaps`:
    /// reduce buckets on a communication thread during the backward (stage 2 over several ranks).
    init(communicator: Communicator, headCount: Int, encoder layout: EncoderParameterLayout?, overlaps: Bool) {
        self.communicator = communicator
        self.headCount = headCount
        var buckets = [0..<headCount]
        if let layout {
            let layers = Set(layout.entries.compactMap { entry -> Int? in
                guard entry.name.hasPrefix("encoder.layer.") else { return nil }
                return Int(entry.name.dropFirst("encoder.layer.".count).prefix { $0.isNumber })
            })
            for part in layers.sorted(by: >) + [-1] {
                let range = layout.range(ofPart: part)
                if !range.isEmpty { buckets.append((headCount + range.lowerBound)..<(headCount + range.upperBound)) }
            }
        }
        self.buckets = buckets
        total = headCount + (layout?.count ?? 0)
        sums = .allocate(capacity: max(total, 1))
        sums.initialize(repeating: 0, count: max(total, 1))
        self.overlaps = overlaps && communicator.isDistributed && layout != nil
        if self.overlaps {
            // The thread holds the object until ``stop()``.
            let thread = Thread { self.serve() }
            thread.name = "gradient all-reduce"
            thread.start()
        }
    }

    deinit { sums.deallocate() }

    /// Whether the last micro-batch's backward should hand its parts over as they complete.
    var overlapsBackward: Bool { overlaps }

    /// Adds a micro-batch's gradients to the sums and zeroes them for the next micro-batch.
    func add(head: inout [Float], encoder: inout [Float]) {
        head.withUnsafeMutableBufferPointer { add($0, at: 0, zeroing: true) }
        encoder.withUnsafeMutableBufferPointer { add($0, at: headCount, zeroing: true) }
    }

    /// Overlap: the list head's gradients are complete (the last micro-batch's head backward).
    func headFinished(_ head: UnsafePointer<Float>) {
        guard submitted == 0 else { return }
        submitNext(UnsafeBufferPointer(start: head, count: headCount))
    }

    /// Overlap: encoder part `part` (a layer, or -1 for the embeddings) is complete; `gradients`
    /// is the encoder's gradient base address. Parts arrive in bucket order.
    func encoderFinished(part: Int, _ gradients: UnsafePointer<Float>) {
        guard submitted > 0, let range = nextBucket else { return }
        submitNext(UnsafeBufferPointer(start: gradients + (range.lowerBound - headCount), count: range.count))
    }

    /// Overlap, for gradients that are not in host memory (a GPU's): where the next bucket lies in
    /// the flat (head, then encoder) values, nil once every bucket is handed over.
    var nextBucket: Range<Int>? { submitted < buckets.count ? buckets[submitted] : nil }

    /// Overlap: the next bucket's values (``nextBucket``'s count of them) are complete.
    func bucketFinished(_ values: UnsafeBufferPointer<Float>) throws {
        guard let range = nextBucket, values.count == range.count else {
            throw TrainingError.invalidInput("\(values.count) gradients for the bucket \(nextBucket.map { "\($0)" } ?? "after the last")")
        }
        submitNext(values)
    }

    /// Adds the next bucket's values to the sums and hands the bucket to the communication thread.
    private func submitNext(_ values: UnsafeBufferPointer<Float>) {
        add(UnsafeMutableBufferPointer(mutating: values), at: buckets[submitted].lowerBound, zeroing: false)
        enqueue()
    }

    /// Sums across ranks what is not summed yet, waits for every bucket, writes the sums
    /// (rounded to fp32) into `head` and `encoder`, and sums the step's loss; then starts afresh.
    func finish(head: inout [Float], encoder: inout [Float], loss: inout Double) throws {
        if overlaps {
            // A rank whose share was empty (or ended early) submits what its backward did not.
            while submitted < buckets.count { enqueue() }
            condition.lock()
            while reduced < buckets.count && failure == nil { condition.wait() }
            let failure = self.failure
            condition.unlock()
            if let failure { throw failure }
        } else {
            for bucket in buckets { try reduce(bucket) }
        }
        head.withUnsafeMutableBufferPointer { round(into: $0, from: 0) }
        encoder.withUnsafeMutableBufferPointer { round(into: $0, from: headCount) }
        sums.update(repeating: 0, count: total)
        var losses = [loss]
        try communicator.sum(&losses)
        loss = losses[0]
        condition.lock()
        submitted = 0
        reduced = 0
        condition.unlock()
    }

    /// Ends the communication thread (the trainer's last call).
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    // MARK: Helpers

    private func add(_ values: UnsafeMutableBufferPointer<Float>, at offset: Int, zeroing: Bool) {
        guard let base = values.baseAddress else { return }
        let target = sums + offset, count = values.count
        ParallelLoop.shares(count, minimumPerShare: 1 << 16) { share in
            for i in share { target[i] += Double(base[i]) }
            if zeroing { (base + share.lowerBound).update(repeating: 0, count: share.count) }
        }
    }

    private func round(into values: UnsafeMutableBufferPointer<Float>, from offset: Int) {
        guard let base = values.baseAddress else { return }
        let source = sums + offset
        ParallelLoop.shares(values.count, minimumPerShare: 1 << 16) { share in
            for i in share { base[i] = Float(source[i]) }
        }
    }

    private func reduce(_ range: Range<Int>) throws {
        guard communicator.isDistributed else { return }
        try communicator.sum(UnsafeMutableBufferPointer(start: sums + range.lowerBound, count: range.count))
    }

    private func enqueue() {
        condition.lock()
        queued.append(submitted)
        submitted += 1
        condition.broadcast()
        condition.unlock()
    }

    /// The communication thread: sums queued buckets in order until stopped.
    private func serve() {
        while true {
            condition.lock()
            while queued.isEmpty && !stopping { condition.wait() }
            if queued.isEmpty {
                condition.unlock()
                return
            }
            let bucket = queued.removeFirst()
            condition.unlock()
            var caught: Error?
            do { try reduce(buckets[bucket]) } catch { caught = error }
            condition.lock()
            if let caught, failure == nil { failure = caught }
            reduced += 1
            condition.broadcast()
            condition.unlock()
        }
    }
}
