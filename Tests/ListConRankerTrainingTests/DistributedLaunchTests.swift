import ListConRankerDistributed
import Testing

/// How a process finds out it is a rank of an MPI job, and how work is split: without MPI
/// nothing changes (one process, every collective the identity).
@Suite struct DistributedLaunchTests {
    @Test func launchersAreFoundInTheEnvironment() {
        #expect(Launcher.detect([:]) == .single)
        #expect(Launcher.detect(["OMPI_COMM_WORLD_SIZE": "2"]) == .mpi(launcher: "mpirun (Open MPI)"))
        #expect(Launcher.detect(["PMIX_RANK": "0"]) == .mpi(launcher: "PMIx"))
        #expect(Launcher.detect(["PMI_RANK": "1"]) == .mpi(launcher: "PMI"))
        #expect(Launcher.detect(["SLURM_STEP_NUM_TASKS": "4", "SLURM_PROCID": "3"]) == .mpi(launcher: "srun (Slurm)"))
        // A batch script is one process, even inside an allocation of several tasks.
        #expect(Launcher.detect(["SLURM_PROCID": "0", "SLURM_NTASKS": "8"]) == .single)
        #expect(Launcher.detect(["SLURM_STEP_NUM_TASKS": "1"]) == .single)
        #expect(Launcher.detect(["OMPI_COMM_WORLD_SIZE": "2", "LISTCONRANKER_MPI": "off"]) == .single)
        #expect(Launcher.detect(["LISTCONRANKER_MPI": "on"]) != .single)
    }

    @Test func withoutALauncherTheProcessIsAloneAndCollectivesAreTheIdentity() throws {
        let single = try Communicator.start(environment: [:])
        #expect(single.rank == 0 && single.size == 1 && single.isRoot && !single.isDistributed)
        var values: [Float] = [1, 2, 3]
        try single.sum(&values)
        #expect(values == [1, 2, 3])
        #expect(try single.allGather([4, 5] as [Float]) == [[4, 5]])
        #expect(try single.shared(3) { [Float($0)] } == [[0], [1], [2]])
        try single.barrier()
        try single.requireSame("x", what: "anything")
    }

    @Test func launchedByMPIWithoutAUsableLibraryIsAClearError() {
        do {
            _ = try Communicator.start(environment: ["OMPI_COMM_WORLD_SIZE": "2",
                                                     "LISTCONRANKER_MPI_LIBRARY": "/nonexistent/libmpi.so.40"])
            Issue.record("a missing libmpi was accepted")
        } catch let error as DistributedError {
            #expect(error.description.contains("cannot load libmpi") && error.description.contains("openmpi-bin"), "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func sharesAreContiguousBalancedAndCoverEverything() {
        for size in 1...5 {
            for count in 0...13 {
                let shares = (0..<size).map { Communicator.share(of: count, rank: $0, size: size) }
                #expect(shares.first?.lowerBound == 0 && shares.last?.upperBound == count)
                #expect(zip(shares, shares.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
                #expect((shares.map(\.count).max() ?? 0) - (shares.map(\.count).min() ?? 0) <= 1)
            }
        }
    }
}
