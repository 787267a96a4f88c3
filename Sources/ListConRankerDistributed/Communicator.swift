import CMPI
import Foundation

/// The processes of one job and the collective operations data-parallel work needs: sums over
/// every rank, broadcasts, gathers and barriers. ``single`` is one process (every operation
/// returns its input); ``start(environment:)`` joins the MPI job this process was launched in.
///
/// MPI is reached through libmpi loaded at run time (the `CMPI` shim), so the package builds and
/// runs where Open MPI is not installed. One thread at a time calls MPI (a lock serialises the
/// calls; MPI is initialised with `MPI_THREAD_SERIALIZED`), so a communication thread may reduce
/// gradients while the main thread computes. Failures come back as ``DistributedError``, never a
/// hang: MPI's error handler is set to return codes, and a rank that stops makes the launcher
/// stop the others.
public final class Communicator: @unchecked Sendable {
    /// This process's rank, 0 ..< ``size``.
    public let rank: Int
    /// Processes in the job.
    public let size: Int
    /// The launcher, for messages ("mpirun (Open MPI)"); nil for one process.
    public let launcher: String?
    private let usesMPI: Bool
    private let lock = NSLock()
    private var finished = false

    /// One process: rank 0 of 1; every collective is the identity.
    public static let single = Communicator(rank: 0, size: 1, launcher: nil, usesMPI: false)

    private init(rank: Int, size: Int, launcher: String?, usesMPI: Bool) {
        self.rank = rank
        self.size = size
        self.launcher = launcher
        self.usesMPI = usesMPI
    }

    /// The communicator of this process: ``single`` unless ``Launcher/detect(_:)`` finds an MPI
    /// launcher, in which case libmpi is loaded (`LISTCONRANKER_MPI_LIBRARY` names it, else the
    /// usual Open MPI sonames) and initialised. Throws ``DistributedError/libraryUnavailable(_:)``
    /// when launched by MPI but libmpi cannot be used: running N copies of a one-process job
    /// silently would write the same files N times.
    public static func start(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Communicator {
        guard case .mpi(let launcher) = Launcher.detect(environment) else { return .single }
        var message = [CChar](repeating: 0, count: 512)
        let path = environment["LISTCONRANKER_MPI_LIBRARY"]
        guard lcr_mpi_load(path, &message, message.count) == 0 else {
            throw DistributedError.libraryUnavailable(String(cString: message))
        }
        var provided: Int32 = 0
        try check(lcr_mpi_initialize(&provided), "MPI_Init_thread")
        guard provided >= 2 else {
            throw DistributedError.libraryUnavailable("this MPI offers thread level \(provided), below MPI_THREAD_SERIALIZED")
        }
        var rank: Int32 = 0, size: Int32 = 0
        try check(lcr_mpi_rank(&rank), "MPI_Comm_rank")
        try check(lcr_mpi_size(&size), "MPI_Comm_size")
        return Communicator(rank: Int(rank), size: Int(size), launcher: launcher, usesMPI: true)
    }

    /// Whether this is rank 0, the one that writes files and prints progress.
    public var isRoot: Bool { rank == 0 }
    /// Whether the job has more than one process.
    public var isDistributed: Bool { size > 1 }
    /// `rank r of n` for messages.
    public var label: String { "rank \(rank) of \(size)" }

    /// This rank's contiguous share of `count` items: the first `count % size` ranks take one more.
    public func share(of count: Int) -> Range<Int> { Self.share(of: count, rank: rank, size: size) }

    /// Rank `rank`'s share of `count` items among `size` ranks (see ``share(of:)``).
    public static func share(of count: Int, rank: Int, size: Int) -> Range<Int> {
        let base = count / size, extra = count % size
        let start = rank * base + min(rank, extra)
        return start..<(start + base + (rank < extra ? 1 : 0))
    }

    // MARK: Collectives

    /// Sums `values` over every rank, in place (each rank ends with the same sums).
    public func sum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        guard usesMPI, size > 1, let base = values.baseAddress else { return }
        try chunks(values.count) { start, count in
            try locked { try Self.check(lcr_mpi_allreduce_sum_float(base + start, Int32(count)), "MPI_Allreduce") }
        }
    }

    /// Sums `values` over every rank, in place.
    public func sum(_ values: inout [Float]) throws {
        try values.withUnsafeMutableBufferPointer { try sum($0) }
    }

    /// Sums `values` over every rank, in place, in double precision.
    public func sum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        guard usesMPI, size > 1, let base = values.baseAddress else { return }
        try chunks(values.count) { start, count in
            try locked { try Self.check(lcr_mpi_allreduce_sum_double(base + start, Int32(count)), "MPI_Allreduce") }
        }
    }

    /// Sums `values` over every rank, in place, in double precision.
    public func sum(_ values: inout [Double]) throws {
        try values.withUnsafeMutableBufferPointer { try sum($0) }
    }

    /// The largest of each element over every rank, in place.
    public func maximum(_ values: inout [Double]) throws {
        guard usesMPI, size > 1 else { return }
        try values.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            try chunks(buffer.count) { start, count in
                try locked { try Self.check(lcr_mpi_allreduce_max_double(base + start, Int32(count)), "MPI_Allreduce") }
            }
        }
    }

    /// Rank `root`'s bytes on every rank (the others' `bytes` are replaced, whatever their length).
    public func broadcast(_ bytes: inout [UInt8], from root: Int = 0) throws {
        guard usesMPI, size > 1 else { return }
        var length = Int64(bytes.count)
        try withUnsafeMutableBytes(of: &length) { raw in
            try locked { try Self.check(lcr_mpi_broadcast_bytes(raw.baseAddress, 8, Int32(root)), "MPI_Bcast") }
        }
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(length)) }
        try bytes.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            try chunks(raw.count) { start, count in
                try locked { try Self.check(lcr_mpi_broadcast_bytes(base + start, Int32(count), Int32(root)), "MPI_Bcast") }
            }
        }
    }

    /// Rank `root`'s floats on every rank.
    public func broadcast(_ values: inout [Float], from root: Int = 0) throws {
        guard usesMPI, size > 1 else { return }
        var bytes = rank == root ? values.withUnsafeBytes { [UInt8]($0) } : []
        try broadcast(&bytes, from: root)
        if rank != root {
            values = [Float](repeating: 0, count: bytes.count / MemoryLayout<Float>.size)
            values.withUnsafeMutableBytes { target in bytes.withUnsafeBytes { target.copyMemory(from: $0) } }
        }
    }

    /// Every rank's bytes, in rank order, on every rank.
    public func allGather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        guard usesMPI, size > 1 else { return [bytes] }
        var lengths = [Int64](repeating: 0, count: size)
        try lengths.withUnsafeMutableBufferPointer { all in
            try locked { try Self.check(lcr_mpi_allgather_int64(Int64(bytes.count), all.baseAddress), "MPI_Allgather") }
        }
        let total = lengths.reduce(0, +)
        guard total <= Int64(Int32.max) else {
            throw DistributedError.communicationFailed(operation: "MPI_Allgatherv",
                                                       message: "\(total) bytes at once exceed MPI's int counts; gather in smaller parts")
        }
        let counts = lengths.map { Int32($0) }
        var displacements = [Int32](repeating: 0, count: size)
        for r in 1..<size { displacements[r] = displacements[r - 1] + counts[r - 1] }
        var received = [UInt8](repeating: 0, count: Int(total))
        try received.withUnsafeMutableBytes { target in
            try bytes.withUnsafeBytes { source in
                try locked {
                    try Self.check(lcr_mpi_allgatherv_bytes(source.baseAddress, Int32(bytes.count), target.baseAddress,
                                                            counts, displacements), "MPI_Allgatherv")
                }
            }
        }
        return (0..<size).map { r in
            Array(received[Int(displacements[r])..<Int(displacements[r] + counts[r])])
        }
    }

    /// Every rank's floats, in rank order, on every rank.
    public func allGather(_ values: [Float]) throws -> [[Float]] {
        try allGather(values.withUnsafeBytes { [UInt8]($0) }).map { bytes in
            var floats = [Float](repeating: 0, count: bytes.count / MemoryLayout<Float>.size)
            floats.withUnsafeMutableBytes { target in bytes.withUnsafeBytes { target.copyMemory(from: $0) } }
            return floats
        }
    }

    /// Waits until every rank reaches it.
    public func barrier() throws {
        guard usesMPI, size > 1 else { return }
        try locked { try Self.check(lcr_mpi_barrier(), "MPI_Barrier") }
    }

    /// Throws ``DistributedError/ranksDisagree(_:)`` unless every rank passes the same `value`
    /// (a digest of the data, the settings): what each rank reads must be what the others read.
    public func requireSame(_ value: String, what: String) throws {
        guard size > 1 else { return }
        let all = try allGather([UInt8](value.utf8)).map { String(decoding: $0, as: UTF8.self) }
        if let other = all.firstIndex(where: { $0 != all[0] }) {
            throw DistributedError.ranksDisagree("\(what) differs between rank 0 (\(all[0].prefix(16))) and rank \(other) "
                + "(\(all[other].prefix(16))); give every rank the same files")
        }
    }

    // MARK: Ending

    /// Says `message` (once, on standard error) when the launcher stops this rank (SIGTERM,
    /// SIGINT, SIGHUP): after another rank died, every rank says why it stopped.
    public func installStopMessage(_ message: String) {
        guard usesMPI else { return }
        lcr_install_stop_message("\(label): \(message)\n")
    }

    /// Ends a failed job: MPI_Abort, so that the launcher stops every rank instead of leaving them
    /// waiting in a collective. Returns only for one process (nothing to abort).
    public func abort(code: Int32 = 1) {
        guard usesMPI, size > 1 else { return }
        _ = lcr_mpi_abort(code)
    }

    /// Ends a successful job (MPI_Finalize, which waits for the other ranks); once.
    public func finish() {
        guard usesMPI else { return }
        lock.withLock {
            guard !finished else { return }
            finished = true
            _ = lcr_mpi_finalize()
        }
    }

    // MARK: Helpers

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Splits `count` elements into parts that fit MPI's int counts.
    private func chunks(_ count: Int, _ body: (Int, Int) throws -> Void) rethrows {
        let most = 1 << 28
        var start = 0
        while start < count {
            let part = min(most, count - start)
            try body(start, part)
            start += part
        }
    }

    static func check(_ code: Int32, _ operation: String) throws {
        guard code != 0 else { return }
        var text = [CChar](repeating: 0, count: 600)
        lcr_mpi_error_string(code, &text, text.count)
        throw DistributedError.communicationFailed(operation: operation, message: String(cString: text))
    }
}
