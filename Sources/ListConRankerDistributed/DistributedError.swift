/// Why a data-parallel job could not start or continue.
public enum DistributedError: Error, CustomStringConvertible, Sendable {
    /// Launched by an MPI launcher, but libmpi could not be loaded or lacks what is needed.
    case libraryUnavailable(String)
    /// An MPI call failed (a peer died, the network broke): MPI's message.
    case communicationFailed(operation: String, message: String)
    /// Ranks disagree on something that must be the same everywhere (the data, the settings).
    case ranksDisagree(String)

    public var description: String {
        switch self {
        case .libraryUnavailable(let reason):
            return "this process was started by an MPI launcher, but MPI is unusable: \(reason). Install Open MPI "
                + "(Debian: apt-get install openmpi-bin), or give its libmpi with LISTCONRANKER_MPI_LIBRARY=/path/libmpi.so.40, "
                + "or run one process without mpirun"
        case .communicationFailed(let operation, let message):
            return "MPI \(operation) failed: \(message) (a rank died or the network failed; the job stops, "
                + "the last saved state stays intact)"
        case .ranksDisagree(let what):
            return "the ranks disagree: \(what)"
        }
    }
}
