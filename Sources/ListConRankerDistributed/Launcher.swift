/// Whether this process was started as one rank of an MPI job, read from the environment the
/// launchers set: Open MPI's `mpirun` (`OMPI_COMM_WORLD_SIZE`), PMIx (`PMIX_RANK`: Open MPI 5,
/// `srun --mpi=pmix`), PMI (`PMI_RANK`: `srun --mpi=pmi2`, MPICH's Hydra), and Slurm's `srun`
/// with several tasks (`SLURM_STEP_NUM_TASKS` > 1; a batch script alone is one process, not a job).
/// `LISTCONRANKER_MPI=off` forces one process, `=on` forces MPI (for launchers not listed).
public enum Launcher {
    /// How the process was launched.
    public enum Kind: Equatable, Sendable {
        /// A plain process: no MPI.
        case single
        /// A rank of an MPI job; the launcher named as the environment showed it.
        case mpi(launcher: String)
    }

    /// The launch kind for `environment`.
    public static func detect(_ environment: [String: String]) -> Kind {
        switch environment["LISTCONRANKER_MPI"]?.lowercased() {
        case "off", "0", "no", "false": return .single
        case "on", "1", "yes", "true": return .mpi(launcher: "LISTCONRANKER_MPI=on")
        default: break
        }
        if environment["OMPI_COMM_WORLD_SIZE"] != nil { return .mpi(launcher: "mpirun (Open MPI)") }
        if environment["PMIX_RANK"] != nil { return .mpi(launcher: "PMIx") }
        if environment["PMI_RANK"] != nil { return .mpi(launcher: "PMI") }
        if let tasks = environment["SLURM_STEP_NUM_TASKS"].flatMap(Int.init), tasks > 1 {
            return .mpi(launcher: "srun (Slurm)")
        }
        return .single
    }
}
