import Foundation
import Testing

/// `train`, `index` and `eval` under `mpirun -np 2` against one process: the same weights after
/// 10 steps of stage 1 and of stage 2 (same global batch, dropout on: each rank's share is whole
/// micro-batches, whose dropout masks are keyed by their place in the global batch), the same
/// store contents, the same metrics; a rank killed mid-run stops the job with a clear error and
/// leaves a state that resumes.
///
/// Needs Open MPI's `mpirun` (CI installs openmpi-bin). Without it the tests are skipped with
/// that reason, except under CI, where they must run.
@Suite(.serialized, .enabled(if: MPIRun.usable, "mpirun not found (apt-get install openmpi-bin); the data-parallel tests need it"))
struct DataParallelCLITests {
    /// A stage-`stage` run on the tiny model: batches of 8 lists in micro-batches of 2, dropout on
    /// (the list head's 0.1 and BERT's own in stage 2), 10 steps (the first epoch's end, step 7, evaluates on the dev set sharded over the ranks).
    /// On the software CUDA device, which is slow, 4 steps of 4 lists and no evaluation: one
    /// process sums 2 micro-batches on the device, each of two ranks hands its one micro-batch's
    /// gradients over as its backward completes them.
    func trainArguments(stage: Int, output: String, cache: String, log: String, device: String = "cpu") -> [String] {
        let emulated = device != "cpu"
        return ["train", "--stage", "\(stage)", "--device", device, "--model", CLIFixtures.tinyModel,
                "--data", CLIFixtures.evaluationData, "--output", output, "--feature-cache", cache, "--log", log,
                "--epochs", "2", "--batch-size", emulated ? "4" : "8", "--micro-batch-size", "2", "--list-size", "4",
                "--seed", "11", "--stop-after-step", "\(Self.steps(device))"]
            + (emulated ? [] : ["--eval-data", CLIFixtures.evaluationData])
            + (stage == 2 ? ["--max-length", "32", "--no-recompute"] : [])
    }

    /// Steps of a run on `device`.
    static func steps(_ device: String) -> Int { device == "cpu" ? 10 : 4 }

    /// `device` "cuda": on the software CUDA device (skipped where it is not built), each rank's
    /// step on its own device after the gradients' sum across ranks on the host.
    func sameWeights(stage: Int, device: String = "cpu") throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        func path(_ name: String) -> String { directory.url.appendingPathComponent(name).path }
        var environment: [String: String] = [:]
        if device == "cuda" {
            guard let emulated = EmulatedCUDACLITests().environment(directory.url) else { return }
            environment = emulated
        }
        let one = try CLI.run(trainArguments(stage: stage, output: path("one"), cache: path("cache-one"), log: path("one.jsonl"),
                                             device: device),
                              environment: environment, timeLimit: 300)
        try #require(one.status == 0, "\(one)")
        // On the software device encoding is slow and not what the GPU case tests: its job reads
        // the features the one process encoded.
        let two = try MPIRun.run(2, trainArguments(stage: stage, output: path("two"),
                                                   cache: path(device == "cuda" ? "cache-one" : "cache-two"),
                                                   log: path("two.jsonl"), device: device), environment: environment)
        try #require(two.status == 0, "\(two)")
        #expect(two.stderr.contains("data-parallel over 2 ranks"), "\(two)")

        // The two-rank run really was two ranks (else both runs would be one process's).
        let log = try String(contentsOfFile: path("two.jsonl"), encoding: .utf8)
        #expect(log.contains("\"ranks\":2"), "\(log.prefix(500))")
        let a = try StateFile(directory: path("one")), b = try StateFile(directory: path("two"))
        let steps = Self.steps(device)
        #expect(a.step == steps && b.step == steps)
        try #require(a.parameters.count == b.parameters.count && !a.parameters.isEmpty)
        let difference = zip(a.parameters, b.parameters).map { abs($0 - $1) }.max() ?? .infinity
        #expect(difference <= 1e-6, "largest weight difference \(difference)")
        // The same losses step by step (each rank's share summed), and the weights moved: the
        // moments are not zero, so equal weights are not two untouched copies.
        let lossesOne = Self.losses(path("one.jsonl")), lossesTwo = Self.losses(path("two.jsonl"))
        #expect(lossesOne.count == steps && lossesTwo.count == steps)
        #expect(zip(lossesOne, lossesTwo).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($0)) }, "\(lossesOne) \(lossesTwo)")
        #expect((a.firstMoments.map(abs).max() ?? 0) > 0)
        // Sharded dev evaluation gives one process's metrics.
        #expect(Self.evaluations(path("one.jsonl")) == Self.evaluations(path("two.jsonl")))
    }

    static func losses(_ log: String) -> [Double] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  object["event"] as? String == "step" else { return nil }
            return object["loss"] as? Double
        }
    }

    static func evaluations(_ log: String) -> [String] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
            .filter { $0.contains("\"event\":\"eval\"") }.map(String.init)
    }

    @Test func stageOneTwoRanksTakeTheStepsOfOneProcess() throws { try sameWeights(stage: 1) }

    @Test func stageTwoTwoRanksTakeTheStepsOfOneProcess() throws { try sameWeights(stage: 2) }

    /// On a GPU one process sums its micro-batches on the device, two ranks on the host, and
    /// every rank clips and steps on its own device: still one process's weights.
    @Test func stageOneTwoRanksOnTheDeviceTakeTheStepsOfOneProcess() throws { try sameWeights(stage: 1, device: "cuda") }

    /// Stage 2 on the device over two ranks: each bucket of the last micro-batch's gradients goes
    /// down to the host and into the sum across ranks as the backward completes it.
    @Test func stageTwoTwoRanksOnTheDeviceTakeTheStepsOfOneProcess() throws { try sameWeights(stage: 2, device: "cuda") }

    /// Passages for `index`: some ids repeated (the last line wins), so that the shares differ.
    func passages(_ directory: TemporaryDirectory) throws -> URL {
        let data = try String(contentsOfFile: CLIFixtures.evaluationData, encoding: .utf8)
        var texts: [String] = []
        for line in data.split(separator: "\n") {
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
            texts += (object["positive"] as? [String] ?? []) + (object["negative"] as? [String] ?? [])
        }
        var lines: [String] = []
        for (i, text) in texts.prefix(90).enumerated() {
            let id = "p\(i % 80)"
            let json = try JSONSerialization.data(withJSONObject: ["id": id, "text": text])
            lines.append(String(decoding: json, as: UTF8.self))
        }
        return try directory.file("passages.jsonl", lines.joined(separator: "\n") + "\n")
    }

    @Test func shardedIndexStoresWhatOneProcessStores() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let input = try passages(directory)
        let oneStore = directory.url.appendingPathComponent("one.sqlite").path
        let twoStore = directory.url.appendingPathComponent("two.sqlite").path
        let arguments = ["index", "--model", CLIFixtures.tinyModel, "--input", input.path, "--batch-size", "8"]
        let one = try CLI.run(arguments + ["--store", oneStore])
        try #require(one.status == 0, "\(one)")
        let two = try MPIRun.run(2, arguments + ["--store", twoStore])
        try #require(two.status == 0, "\(two)")
        // One summary line (rank 0's), with the job's totals.
        struct Summary: Decodable, Equatable { let indexed, unchanged, duplicates, deleted, stored: Int }
        let a0 = try JSONDecoder().decode(Summary.self, from: Data(one.stdout.utf8))
        let b0 = try JSONDecoder().decode(Summary.self, from: Data(two.stdout.utf8))
        #expect(a0 == b0, "\(one.stdout)\n\(two.stdout)")
        #expect(one.stdout.contains("\"indexed\":80") && one.stdout.contains("\"duplicates\":10"), "\(one.stdout)")
        let a = try StoreDump.rows(oneStore), b = try StoreDump.rows(twoStore)
        #expect(a.count == 80)
        #expect(a == b, "the stores differ")
    }

    @Test func shardedEvalGivesOneProcessMetrics() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for mode in ["conventional", "iterative"] {
            let arguments = ["eval", "--model", CLIFixtures.tinyModel, "--data", CLIFixtures.evaluationData, "--mode", mode]
            // Both through a store (each its own): the two ranks fill theirs half each.
            let one = try CLI.run(arguments + ["--scores-out", directory.url.appendingPathComponent("one-\(mode).jsonl").path,
                                               "--store", directory.url.appendingPathComponent("one.sqlite").path])
            try #require(one.status == 0, "\(one)")
            let two = try MPIRun.run(2, arguments + ["--scores-out", directory.url.appendingPathComponent("two-\(mode).jsonl").path,
                                                     "--store", directory.url.appendingPathComponent("two.sqlite").path])
            try #require(two.status == 0, "\(two)")
            #expect(two.stderr.contains("over 2 ranks"), "\(two)")
            struct Results: Decodable, Equatable {
                struct Metrics: Decodable, Equatable { let map: Double; let mrr_at_1: Double; let mrr_at_5: Double; let mrr_at_10: Double }
                let scores: [String: [Metrics]]
                let samples_scored: Int
                let samples_skipped: Int
            }
            let a = try JSONDecoder().decode(Results.self, from: Data(one.stdout.utf8))
            let b = try JSONDecoder().decode(Results.self, from: Data(two.stdout.utf8))
            #expect(a == b, "\(one.stdout)\n\(two.stdout)")
            let scoresOne = try String(contentsOf: directory.url.appendingPathComponent("one-\(mode).jsonl"), encoding: .utf8)
            let scoresTwo = try String(contentsOf: directory.url.appendingPathComponent("two-\(mode).jsonl"), encoding: .utf8)
            #expect(scoresOne == scoresTwo)
        }
    }

    /// A rank killed mid-run: the job stops with a clear error on the surviving rank, the saved
    /// state is whole, it resumes with two ranks, and one rank is told it needs two.
    @Test func aKilledRankStopsTheJobAndTheStateResumes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        func path(_ name: String) -> String { directory.url.appendingPathComponent(name).path }
        var arguments = trainArguments(stage: 1, output: path("run"), cache: path("cache"), log: path("log.jsonl"))
        arguments.removeLast(2)   // no --stop-after-step
        arguments[arguments.firstIndex(of: "--batch-size")! + 1] = "2"
        arguments[arguments.firstIndex(of: "--epochs")! + 1] = "40"
        arguments += ["--save-every", "1"]
        let marker = UUID().uuidString
        final class Outcome: @unchecked Sendable { var result: CLIResult? }
        let outcome = Outcome()
        let finished = DispatchSemaphore(value: 0)
        let launch = arguments
        Thread.detachNewThread {
            outcome.result = try? MPIRun.run(2, launch, environment: ["LCR_TEST_MARKER": marker])
            finished.signal()
        }
        // Wait for four logged steps, then kill rank 1. Step 3's state is then saved: a step's line is
        // logged before its save, whose weight check needs every rank, and step 4 starts after it, so
        // a kill just after step 3's line could still stop that save (the run then rightly keeps 2).
        let deadline = Date().addingTimeInterval(240)
        while Date() < deadline, (try? String(contentsOfFile: path("log.jsonl"), encoding: .utf8))?
            .components(separatedBy: "\"event\":\"step\"").count ?? 0 < 5 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let victim = try #require(MPIRun.process(marker: marker, rank: 1), "no rank 1 found")
        kill(victim, SIGKILL)
        finished.wait()
        let killed = try #require(outcome.result)
        #expect(killed.status != 0, "\(killed)")
        #expect(killed.stderr.contains("rank 0 of 2: stopped by the launcher") || killed.stderr.contains("exited on signal 9"),
                "\(killed)")
        // The state on disk is whole and resumes with two ranks to the end.
        let saved = try StateFile(directory: path("run"))
        #expect(saved.step >= 3 && saved.step < saved.totalSteps, "step \(saved.step)")
        var resume = arguments
        resume[resume.firstIndex(of: "--epochs")! + 1] = "40"
        let oneRank = try CLI.run(resume + ["--resume"])
        #expect(oneRank.status != 0 && oneRank.stderr.contains("same number of ranks"), "\(oneRank)")
        let resumed = try MPIRun.run(2, resume + ["--resume", "--stop-after-step", "\(saved.step + 2)"])
        #expect(resumed.status == 0, "\(resumed)")
        #expect(try StateFile(directory: path("run")).step == saved.step + 2)
    }
}

/// `mpirun` for the tests: found on PATH; absent locally the suite is skipped, absent in CI the
/// suite fails (CI must run it).
enum MPIRun {
    static let path: String? = {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        return directories.map { "\($0)/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// Whether to run the suite: mpirun is there, or this is CI (where its absence fails the tests).
    static var usable: Bool { path != nil || ProcessInfo.processInfo.environment["CI"] != nil }

    /// `mpirun -np ranks listconranker arguments…`, allowed as root and on a machine with fewer
    /// cores than ranks, the ranks not bound to cores (each uses the cores it finds).
    static func run(_ ranks: Int, _ arguments: [String], environment: [String: String] = [:]) throws -> CLIResult {
        let mpirun = try #require(path, "CI must install openmpi-bin: mpirun is not on PATH")
        return try CLI.run(arguments, environment: environment,
                           prefix: [mpirun, "--oversubscribe", "--allow-run-as-root", "--bind-to", "none",
                                    "--mca", "btl_vader_single_copy_mechanism", "none", "-np", "\(ranks)"],
                           timeLimit: 300)
    }

    /// The process id of rank `rank` of the job whose environment holds `LCR_TEST_MARKER=marker`.
    static func process(marker: String, rank: Int) -> pid_t? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = pid_t(entry), let environ = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { continue }
            let variables = environ.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if variables.contains("LCR_TEST_MARKER=\(marker)") && variables.contains("OMPI_COMM_WORLD_RANK=\(rank)") {
                return pid
            }
        }
        return nil
    }
}

/// `training_state.bin` read as its format says: magic, header length, JSON header, then the
/// parameters, first and second moments (float32 each).
struct StateFile {
    let step: Int
    let totalSteps: Int
    let parameters: [Float]
    let firstMoments: [Float]

    init(directory: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/training_state.bin"))
        let length = Int(data[8..<16].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian })
        let header = try #require(try JSONSerialization.jsonObject(with: data[16..<16 + length]) as? [String: Any])
        step = header["step"] as? Int ?? -1
        totalSteps = header["totalSteps"] as? Int ?? -1
        let count = header["parameterCount"] as? Int ?? 0
        func block(_ k: Int) -> [Float] {
            var values = [Float](repeating: 0, count: count)
            let start = 16 + length + k * count * 4
            values.withUnsafeMutableBytes { target in
                data[start..<(start + count * 4)].withUnsafeBytes { target.copyMemory(from: $0) }
            }
            return values
        }
        parameters = block(0)
        firstMoments = block(1)
    }
}

/// The rows of an SQLite feature store (id, text hash, vector bytes), sorted by id, read with
/// Python's sqlite3 module (the CLI tests link no SQLite library of their own).
enum StoreDump {
    static func rows(_ path: String) throws -> [String] {
        let script = """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            for i, h, v in c.execute('SELECT id, text_hash, vector FROM listconranker_features ORDER BY id'):
                print(i, h.hex(), v.hex())
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "python3 could not read \(path)")
        return String(decoding: output, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
