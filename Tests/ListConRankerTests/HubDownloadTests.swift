import Foundation
import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

/// End-to-end tests of `HubModelResolver` against the mock hub on loopback.
/// Every test has its own scratch folder (cache included) and its own server.
@Suite("Hub downloads against a mock hub")
struct HubDownloadTests {
    let scratch: ScratchDirectory
    let model: FakeModel
    var cache: URL { scratch.url.appendingPathComponent("cache", isDirectory: true) }
    var layout: HubCacheLayout { HubCacheLayout(cacheDirectory: cache, repository: try! HubRepositoryID("owner/tiny-model")) }

    init() throws {
        scratch = try ScratchDirectory()
        model = try FakeModel.make(in: scratch.url)
    }

    func startHub(_ options: [String] = []) async throws -> MockHub {
        try await MockHub.start(repos: ["owner/tiny-model": model.folder], options: options, scratch: scratch.url)
    }

    func resolver(_ endpoint: String, token: String? = nil, offline: Bool = false, attempts: Int = 3,
                  progress: (any DownloadProgressReporting)? = nil) -> HubModelResolver {
        HubModelResolver(configuration: HubConfiguration(endpoint: endpoint, token: token, offline: offline,
                                                         cacheDirectory: cache, requestTimeout: 5, attemptsPerFile: attempts),
                         progress: progress)
    }

    func expectSnapshotHoldsModel(_ snapshot: URL) throws {
        let names = Set(try FileManager.default.contentsOfDirectory(atPath: snapshot.path))
        #expect(names == FakeModel.expectedFiles)
        for name in FakeModel.expectedFiles {
            #expect(try Data(contentsOf: snapshot.appendingPathComponent(name)) == model.files[name], "content of \(name)")
        }
    }

    @Test func firstDownloadThenCacheWithServerStopped() async throws {
        let hub = try await startHub()
        let snapshot = try await resolver(hub.endpoint).resolve("owner/tiny-model")
        #expect(snapshot.deletingLastPathComponent().path == layout.snapshotsFolder.path)
        try expectSnapshotHoldsModel(snapshot)

        // Only the model's files were transferred; README.md and the unused pytorch_model.bin never were.
        let fetched = hub.requests().filter { $0.method == "GET" }.map(\.path)
        #expect(!fetched.contains { $0.contains("README.md") || $0.contains("pytorch_model.bin") })
        #expect(hub.requests().allSatisfy { $0.acceptEncoding == "identity" })
        hub.stop()

        // Server gone: `main` falls back to the cached snapshot, the commit id needs no network at all.
        let again = try await resolver(hub.endpoint).resolve("owner/tiny-model")
        #expect(again == snapshot)
        let commit = snapshot.lastPathComponent
        let byCommit = try await resolver(hub.endpoint).resolve("owner/tiny-model@\(commit)")
        #expect(byCommit == snapshot)
    }

    @Test func secondRunDownloadsNothing() async throws {
        let hub = try await startHub()
        defer { hub.stop() }
        _ = try await resolver(hub.endpoint).resolve("owner/tiny-model")
        let before = hub.requests().count
        _ = try await resolver(hub.endpoint).resolve("owner/tiny-model")
        let second = hub.requests().dropFirst(before)
        // One API call to see where `main` points now, no HEAD and no GET of any file.
        #expect(second.count == 1)
        #expect(second.first?.path == "/api/models/owner/tiny-model/revision/main")
    }

    @Test func layoutMatchesHuggingFaceHub() async throws {
        let hub = try await startHub()
        defer { hub.stop() }
        let snapshot = try await resolver(hub.endpoint).resolve("owner/tiny-model")
        let commit = snapshot.lastPathComponent
        #expect(HubCacheLayout.isCommitHash(commit))
        #expect(cache.appendingPathComponent("models--owner--tiny-model/snapshots/\(commit)").path == snapshot.path)

        // refs/main holds the bare commit id, no newline.
        let ref = try String(contentsOf: layout.refsFolder.appendingPathComponent("main"), encoding: .utf8)
        #expect(ref == commit)

        // Each snapshot entry is a relative symlink to blobs/<etag>: sha256 for LFS files, git sha1 for small ones.
        for name in FakeModel.expectedFiles {
            let data = try #require(model.files[name])
            let target = try FileManager.default.destinationOfSymbolicLink(atPath: snapshot.appendingPathComponent(name).path)
            let lfs = data.count >= 10_000
            let etag = lfs ? SHA256.hexDigest(of: data) : try await gitBlobSHA1(data, scratch: scratch.url)
            #expect(target == "../../blobs/\(etag)", "\(name) (\(lfs ? "LFS" : "git") file)")
            #expect(try Data(contentsOf: layout.blob(etag: etag)) == data)
        }
        let blobs = try FileManager.default.contentsOfDirectory(atPath: layout.blobsFolder.path)
        #expect(blobs.count == FakeModel.expectedFiles.count)
        #expect(!blobs.contains { $0.hasSuffix(".incomplete") })
        // Locks live beside the repositories, as huggingface_hub keeps them.
        #expect(FileManager.default.fileExists(atPath: cache.appendingPathComponent(".locks/models--owner--tiny-model").path))
        // A wanted file the repository lacks is recorded as absent at this commit.
        #expect(layout.isKnownMissing(commit: commit, file: "tokenizer.json"))
        #expect(!layout.isKnownMissing(commit: commit, file: "vocab.txt"))
    }

    @Test func resumesAfterTransferCutInTheMiddle() async throws {
        let hub = try await startHub(["--cut-once", "model.safetensors"])
        defer { hub.stop() }
        let single = resolver(hub.endpoint, attempts: 1)
        let full = try #require(model.files["model.safetensors"])
        let etag = SHA256.hexDigest(of: full)

        await #expect {
            _ = try await single.resolve("owner/tiny-model")
        } throws: { error in
            guard case HubError.transferInterrupted(let file, let received, let expected, let partial, _) = error else { return false }
            return file == "model.safetensors" && received == Int64(full.count / 2) && expected == Int64(full.count)
                && partial.hasSuffix("blobs/\(etag).incomplete")
        }
        // The half that arrived is kept; nothing half-made is in the snapshot.
        let partial = layout.incompleteBlob(etag: etag)
        #expect(try Data(contentsOf: partial) == full.prefix(full.count / 2))
        #expect(!FileManager.default.fileExists(atPath: layout.blob(etag: etag).path))

        let snapshot = try await single.resolve("owner/tiny-model")
        try expectSnapshotHoldsModel(snapshot)
        #expect(!FileManager.default.fileExists(atPath: partial.path))
        let cdn = hub.requests().filter { $0.path.hasPrefix("/cdn/\(etag)") }
        #expect(cdn.map(\.status) == [200, 206])
        #expect(cdn.last?.range == "bytes=\(full.count / 2)-")
    }

    @Test func retriesWithinOneCallAndRestartsWhenRangeIsIgnored() async throws {
        // The CDN honours Range (206); the hub's own small-file answer ignores it (200): both must end correct.
        let hub = try await startHub(["--cut-once", "model.safetensors", "--cut-once", "list_transformer.pt"])
        defer { hub.stop() }
        let snapshot = try await resolver(hub.endpoint, attempts: 3).resolve("owner/tiny-model")
        try expectSnapshotHoldsModel(snapshot)
        let direct = hub.requests().filter { $0.method == "GET" && $0.path.hasSuffix("/list_transformer.pt") }
        #expect(direct.map(\.status) == [200, 200])
        #expect(direct.last?.range == "bytes=2500-")
    }

    @Test func wrongSHA256LeavesNothingBehind() async throws {
        let hub = try await startHub(["--wrong-sha", "model.safetensors"])
        defer { hub.stop() }
        await #expect {
            _ = try await resolver(hub.endpoint).resolve("owner/tiny-model")
        } throws: { error in
            guard case HubError.checksumMismatch(let file, _, let actual) = error else { return false }
            return file == "model.safetensors" && actual == SHA256.hexDigest(of: model.files["model.safetensors"] ?? Data())
        }
        let snapshots = try FileManager.default.contentsOfDirectory(atPath: layout.snapshotsFolder.path)
        for commit in snapshots {
            let entries = try FileManager.default.contentsOfDirectory(atPath: layout.snapshot(commit: commit).path)
            #expect(!entries.contains("model.safetensors"))
        }
        let blobs = try FileManager.default.contentsOfDirectory(atPath: layout.blobsFolder.path)
        #expect(!blobs.contains { $0.hasSuffix(".incomplete") })
        #expect(!blobs.contains(SHA256.hexDigest(of: model.files["model.safetensors"] ?? Data())))
        // Offline, the half-made snapshot is not taken for a model.
        await #expect(throws: HubError.self) {
            _ = try await resolver(hub.endpoint, offline: true).resolve("owner/tiny-model")
        }
    }

    @Test func missingRepositoryIsReported() async throws {
        let hub = try await startHub()
        defer { hub.stop() }
        do {
            _ = try await resolver(hub.endpoint).resolve("owner/no-such-model")
            Issue.record("resolving a missing repository succeeded")
        } catch let error as HubError {
            #expect(error == .repositoryNotFound(repository: "owner/no-such-model", endpoint: hub.endpoint))
            #expect(error.description.contains("owner/no-such-model"))
            #expect(error.description.contains("not found"))
        }
        await #expect(throws: HubError.revisionNotFound(repository: "owner/tiny-model", revision: "v9")) {
            _ = try await resolver(hub.endpoint).resolve("owner/tiny-model", revision: "v9")
        }
    }

    @Test func gatedRepositoryAsksForHFToken() async throws {
        let hub = try await startHub(["--gated", "owner/tiny-model:hf_secret"])
        defer { hub.stop() }
        do {
            _ = try await resolver(hub.endpoint).resolve("owner/tiny-model")
            Issue.record("a gated repository downloaded without a token")
        } catch let error as HubError {
            #expect(error == .authenticationRequired(repository: "owner/tiny-model", status: 401, tokenWasSent: false))
            #expect(error.description.contains("HF_TOKEN"))
        }
        await #expect(throws: HubError.authenticationRequired(repository: "owner/tiny-model", status: 403, tokenWasSent: true)) {
            _ = try await resolver(hub.endpoint, token: "hf_wrong").resolve("owner/tiny-model")
        }
        let before = hub.requests().count
        let snapshot = try await resolver(hub.endpoint, token: "hf_secret").resolve("owner/tiny-model")
        try expectSnapshotHoldsModel(snapshot)
        // The token goes to the hub and never to the CDN host a redirect leads to.
        let requests = hub.requests().dropFirst(before)
        #expect(requests.filter { $0.host.hasPrefix("127.0.0.1") }.allSatisfy { $0.authorization == "Bearer hf_secret" })
        let cdn = requests.filter { $0.host.hasPrefix("localhost") }
        #expect(!cdn.isEmpty)
        #expect(cdn.allSatisfy { $0.authorization == nil })
    }

    @Test func offlineModeHitAndMiss() async throws {
        let hub = try await startHub()
        defer { hub.stop() }
        do {
            _ = try await resolver(hub.endpoint, offline: true).resolve("owner/tiny-model")
            Issue.record("offline resolution of an empty cache succeeded")
        } catch let error as HubError {
            guard case .notInCache(let repository, let revision, _, _, _) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(repository == "owner/tiny-model" && revision == "main")
            #expect(error.description.contains("HF_HUB_OFFLINE"))
        }
        #expect(hub.requests().isEmpty, "offline mode made a request")

        let online = try await resolver(hub.endpoint).resolve("owner/tiny-model")
        let count = hub.requests().count
        let offline = try await resolver(hub.endpoint, offline: true).resolve("owner/tiny-model")
        #expect(offline == online)
        #expect(hub.requests().count == count, "offline mode made a request")

        // A revision never fetched is a miss, and so is a snapshot that lost its weights.
        await #expect(throws: HubError.self) {
            _ = try await resolver(hub.endpoint, offline: true).resolve("owner/tiny-model@v2")
        }
        try FileManager.default.removeItem(at: online.appendingPathComponent("model.safetensors"))
        do {
            _ = try await resolver(hub.endpoint, offline: true).resolve("owner/tiny-model")
            Issue.record("offline resolution of a snapshot without weights succeeded")
        } catch let error as HubError {
            guard case .notInCache(_, _, _, let missing, _) = error else { Issue.record("unexpected \(error)"); return }
            #expect(missing == ["model.safetensors or pytorch_model.bin"])
        }
    }

    @Test func unreachableHubNamesTheEndpoint() async throws {
        // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
        let endpoint = "http://127.0.0.1:9"
        do {
            _ = try await resolver(endpoint).resolve("owner/tiny-model")
            Issue.record("resolution against a closed port succeeded")
        } catch let error as HubError {
            guard case .networkFailure(let reported, _, _) = error else { Issue.record("unexpected \(error)"); return }
            #expect(reported == endpoint)
            #expect(error.description.contains(endpoint))
        }
    }

    @Test func progressIsReportedPerFile() async throws {
        let hub = try await startHub()
        defer { hub.stop() }
        let recorder = RecordingProgress()
        _ = try await resolver(hub.endpoint, progress: recorder).resolve("owner/tiny-model")
        let events = recorder.events.filter {
            switch $0 {
            case .started(let file, _, _), .progressed(let file, _), .finished(let file, _, _): return file == "model.safetensors"
            }
        }
        #expect(events.first == .started("model.safetensors", 300_000, 0))
        #expect(events.last == .finished("model.safetensors", 300_000, true))
        let amounts = events.compactMap { event -> Int64? in
            if case .progressed(_, let bytes) = event { return bytes }
            return nil
        }
        #expect(!amounts.isEmpty)
        #expect(amounts == amounts.sorted())
        #expect(amounts.last == 300_000)
    }

    @Test func concurrentResolutionsShareOneDownload() async throws {
        let hub = try await startHub()
        defer { hub.stop() }
        let first = resolver(hub.endpoint), second = resolver(hub.endpoint)
        async let a = first.resolve("owner/tiny-model")
        async let b = second.resolve("owner/tiny-model")
        let (snapshotA, snapshotB) = try await (a, b)
        #expect(snapshotA == snapshotB)
        try expectSnapshotHoldsModel(snapshotA)
    }

    @Test func resolvesHubIdsAndLocalFolders() async throws {
        let hub = try await startHub()
        defer { hub.stop() }
        let resolver = resolver(hub.endpoint)
        let snapshot = try await resolver.resolve("owner/tiny-model")
        let local = try await resolver.resolve(model.folder.path)
        try expectSnapshotHoldsModel(snapshot)
        #expect(local.path == model.folder.standardizedFileURL.path)
    }

    // MARK: - Interoperability with Python's huggingface_hub (installed here, not in CI)

    @Test(.enabled(if: huggingFaceHubAvailable, "Python huggingface_hub is not installed"))
    func pythonReadsWhatSwiftDownloaded() async throws {
        let hub = try await startHub()
        defer { hub.stop() }
        let snapshot = try await resolver(hub.endpoint).resolve("owner/tiny-model")
        let files = FakeModel.expectedFiles.sorted().map { "'\($0)'" }.joined(separator: ", ")
        let script = """
            from huggingface_hub import hf_hub_download, snapshot_download
            for f in [\(files)]:
                print(hf_hub_download('owner/tiny-model', f, cache_dir='\(cache.path)', local_files_only=True))
            print(snapshot_download('owner/tiny-model', cache_dir='\(cache.path)', local_files_only=True))
            """
        let (status, output, errors) = try await runPython(script, environment: ["HF_HUB_OFFLINE": "1", "HF_HOME": scratch.url.path])
        #expect(status == 0, "\(errors)")
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines == FakeModel.expectedFiles.sorted().map { snapshot.appendingPathComponent($0).path } + [snapshot.path])
    }

    @Test(.enabled(if: huggingFaceHubAvailable, "Python huggingface_hub is not installed"))
    func swiftReadsWhatPythonDownloaded() async throws {
        let hub = try await startHub()
        defer { hub.stop() }
        let files = FakeModel.expectedFiles.sorted().map { "'\($0)'" }.joined(separator: ", ")
        let script = """
            from huggingface_hub import hf_hub_download
            for f in [\(files)]:
                hf_hub_download('owner/tiny-model', f, cache_dir='\(cache.path)')
            """
        let environment = ["HF_ENDPOINT": hub.endpoint, "HF_HOME": scratch.url.path, "HF_HUB_DISABLE_XET": "1",
                           "HF_HUB_DISABLE_TELEMETRY": "1"]
        let (status, _, errors) = try await runPython(script, environment: environment)
        try #require(status == 0, "\(errors)")

        let offline = try await resolver(hub.endpoint, offline: true).resolve("owner/tiny-model")
        try expectSnapshotHoldsModel(offline)
        // Online, the files Python fetched are reused: no file is requested again.
        let before = hub.requests().count
        let online = try await resolver(hub.endpoint).resolve("owner/tiny-model")
        #expect(online == offline)
        #expect(hub.requests().dropFirst(before).allSatisfy { $0.path.hasPrefix("/api/") })
    }
}
