import ArgumentParser
import Foundation
import ListConRankerDistributed

/// How `train`, `index` and `eval` run as ranks of an MPI job (`mpirun -np N listconranker …`,
/// `srun`): one process when no launcher is found (``Launcher``), else the ranks' communicator.
/// A failure on one rank is printed with its rank and ends the whole job (MPI_Abort), so that no
/// rank waits forever for it; a rank stopped by the launcher says why before it exits.
enum DistributedJob {
    /// Runs `body` with this process's communicator; `stopped` completes "stopped by the launcher
    /// (…)" for the job's files, e.g. how to resume.
    static func run<T>(stopped: String, _ body: (Communicator) async throws -> T) async throws -> T {
        let ranks: Communicator
        do { ranks = try Communicator.start() } catch let error as DistributedError { throw InputError(error.description) }
        guard ranks.isDistributed else {
            defer { ranks.finish() }
            return try await body(ranks)
        }
        ranks.installStopMessage("stopped by the launcher (another rank failed, or the job was cancelled); \(stopped)")
        do {
            let result = try await body(ranks)
            ranks.finish()
            return result
        } catch {
            let message = ListConRankerCommand.message(for: error)
            FileHandle.standardError.write(Data("\(ranks.label): Error: \(message)\n".utf8))
            ranks.abort(code: 1)
            throw error
        }
    }
}
