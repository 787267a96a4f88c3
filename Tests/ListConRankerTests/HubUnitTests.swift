import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

@Suite("Hub: names, settings, hashing")
struct HubUnitTests {
    @Test func repositoryIDsFollowTheHubRules() throws {
        let id = try HubRepositoryID("ByteDance/ListConRanker")
        #expect(id.owner == "ByteDance" && id.name == "ListConRanker")
        #expect(id.cacheFolderName == "models--ByteDance--ListConRanker")
        for valid in ["a/b", "user_1/model.v2-final", "sentence-transformers/all-MiniLM-L6-v2"] {
            #expect(HubRepositoryID.problem(with: valid) == nil, "\(valid)")
        }
        for invalid in ["noslash", "a/b/c", "/b", "a/", "a b/c", "a/-b", "a/b.", "a--b/c", "a/b..c", "a/b.git",
                        "ä/b", String(repeating: "x", count: 50) + "/" + String(repeating: "y", count: 50)] {
            #expect(HubRepositoryID.problem(with: invalid) != nil, "\(invalid)")
        }
    }

    @Test func modelReferencesPreferExistingPaths() throws {
        let scratch = try ScratchDirectory()
        // A local folder that looks like a repository id is still a folder.
        let lookalike = scratch.url.appendingPathComponent("owner/name", isDirectory: true)
        try FileManager.default.createDirectory(at: lookalike, withIntermediateDirectories: true)
        #expect(try ModelReference.parse("owner/name", revision: nil, fileManager: .default, currentDirectory: scratch.url)
            == .local(lookalike.standardizedFileURL))
        #expect(try ModelReference.parse(lookalike.path) == .local(lookalike.standardizedFileURL))

        let repo = try HubRepositoryID("ByteDance/ListConRanker")
        #expect(try ModelReference.parse("ByteDance/ListConRanker") == .hub(repo, revision: "main"))
        #expect(try ModelReference.parse("ByteDance/ListConRanker@v1.0") == .hub(repo, revision: "v1.0"))
        #expect(try ModelReference.parse("ByteDance/ListConRanker", revision: "dev") == .hub(repo, revision: "dev"))
        #expect(try ModelReference.parse("ByteDance/ListConRanker@refs/pr/3") == .hub(repo, revision: "refs/pr/3"))
        #expect(try ModelReference.parse("ByteDance/ListConRanker@dev", revision: "dev") == .hub(repo, revision: "dev"))
        #expect(throws: HubError.conflictingRevisions(repository: "ByteDance/ListConRanker", inReference: "a", argument: "b")) {
            try ModelReference.parse("ByteDance/ListConRanker@a", revision: "b")
        }
        for bad in ["", "just-a-name", "a/b/c", "./missing-folder", "/no/such/dir", "owner/name@"] {
            #expect(throws: HubError.self, "\(bad)") { try ModelReference.parse(bad) }
        }
        do {
            _ = try ModelReference.parse("/no/such/dir")
        } catch let error as HubError {
            #expect(error.description.contains("/no/such/dir"))
            #expect(error.description.contains("no file or directory"))
        }
    }

    @Test func environmentIsReadLikeHuggingFaceHub() throws {
        let home = ["HOME": "/home/u"]
        let defaults = HubConfiguration(environment: home)
        #expect(defaults.endpoint == "https://huggingface.co")
        #expect(defaults.cacheDirectory.path == "/home/u/.cache/huggingface/hub")
        #expect(defaults.token == nil && !defaults.offline)

        #expect(HubConfiguration(environment: home.merging(["XDG_CACHE_HOME": "/x"]) { $1 }).cacheDirectory.path == "/x/huggingface/hub")
        #expect(HubConfiguration(environment: home.merging(["HF_HOME": "~/hf"]) { $1 }).cacheDirectory.path == "/home/u/hf/hub")
        let explicit = HubConfiguration(environment: home.merging([
            "HF_HOME": "/hf", "HF_HUB_CACHE": "/cache", "HF_ENDPOINT": "https://hf-mirror.com/",
            "HF_TOKEN": " hf_abc\n", "HF_HUB_OFFLINE": "1",
        ]) { $1 })
        #expect(explicit.cacheDirectory.path == "/cache")
        #expect(explicit.endpoint == "https://hf-mirror.com")
        #expect(explicit.token == "hf_abc")
        #expect(explicit.offline)
        for (value, expected) in [("0", false), ("true", true), ("YES", true), ("on", true), ("no", false)] {
            #expect(HubConfiguration(environment: ["HF_HUB_OFFLINE": value]).offline == expected, "\(value)")
        }

        // Without HF_TOKEN, the token `huggingface-cli login` saved under HF_HOME is used.
        let scratch = try ScratchDirectory()
        try Data("hf_saved\n".utf8).write(to: scratch.url.appendingPathComponent("token"))
        #expect(HubConfiguration(environment: ["HF_HOME": scratch.url.path]).token == "hf_saved")
    }

    @Test func sha256MatchesKnownVectors() {
        #expect(SHA256.hexDigest(of: Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hexDigest(of: Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hexDigest(of: Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let million = Data(repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA256.hexDigest(of: million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // Fed in odd-sized pieces, the digest is the same.
        var hasher = SHA256()
        var offset = 0
        for size in [1, 63, 64, 65, 127, 1000, 7] + Array(repeating: 4093, count: 300) where offset < million.count {
            let end = min(million.count, offset + size)
            hasher.update(million[offset..<end])
            offset = end
        }
        hasher.update(million[offset...])
        #expect(hasher.finalizeHex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func etagsAreNormalizedLikeHuggingFaceHub() {
        #expect(HubFileMetadata.normalizeETag("\"abc\"") == "abc")
        #expect(HubFileMetadata.normalizeETag("W/\"abc\"") == "abc")
        let sha = String(repeating: "ab", count: 32)
        #expect(HubFileMetadata(etag: sha, size: nil, location: URL(fileURLWithPath: "/")).sha256 == sha)
        #expect(HubFileMetadata(etag: String(repeating: "a", count: 40), size: nil, location: URL(fileURLWithPath: "/")).sha256 == nil)
        #expect(HubFileDownloader.contentRangeStart("bytes 150000-299999/300000") == 150_000)
        #expect(HubFileDownloader.contentRangeStart(nil) == nil)
    }

    @Test func redirectsDropTheTokenOffTheHub() throws {
        let hub = try #require(URL(string: "https://huggingface.co/a/b/resolve/main/x"))
        var request = URLRequest(url: try #require(URL(string: "https://cdn-lfs.huggingface.co/x")))
        request.setValue("Bearer t", forHTTPHeaderField: "Authorization")
        request.setValue("bytes=10-", forHTTPHeaderField: "Range")
        let toCDN = HubHTTPClient.redirected(request, from: hub)
        #expect(toCDN.value(forHTTPHeaderField: "Authorization") == nil)
        #expect(toCDN.value(forHTTPHeaderField: "Range") == "bytes=10-")
        request.url = URL(string: "https://huggingface.co/renamed/b/resolve/main/x")
        #expect(HubHTTPClient.redirected(request, from: hub).value(forHTTPHeaderField: "Authorization") == "Bearer t")
        #expect(!HubHTTPClient.sameOrigin(hub, try #require(URL(string: "http://huggingface.co/"))))
        #expect(HubHTTPClient.sameOrigin(hub, try #require(URL(string: "https://huggingface.co:443/other"))))
    }

    @Test func requestsCarryTokenOnlyToTheHub() throws {
        let configuration = HubConfiguration(endpoint: "https://hub.example", token: "hf_x",
                                             cacheDirectory: URL(fileURLWithPath: "/tmp"))
        let requests = HubRequests(configuration: configuration, repository: try HubRepositoryID("o/n"))
        let api = try requests.revisionInfoURL(revision: "refs/pr/1")
        #expect(api.absoluteString == "https://hub.example/api/models/o/n/revision/refs%2Fpr%2F1")
        let file = try requests.resolveURL(commit: String(repeating: "a", count: 40), file: "sub dir/f.bin")
        #expect(file.absoluteString == "https://hub.example/o/n/resolve/\(String(repeating: "a", count: 40))/sub%20dir/f.bin")
        #expect(requests.request(file).value(forHTTPHeaderField: "Authorization") == "Bearer hf_x")
        let cdn = try #require(URL(string: "https://cdn.example/blob"))
        #expect(requests.request(cdn).value(forHTTPHeaderField: "Authorization") == nil)
        #expect(requests.request(file, rangeStart: 5).value(forHTTPHeaderField: "Range") == "bytes=5-")
    }

    @Test func fileSelectionPrefersSafetensorsAndRequiresAModel() throws {
        let repo = try HubRepositoryID("o/n")
        let all = ["config.json", "vocab.txt", "tokenizer.json", "model.safetensors", "pytorch_model.bin",
                   "list_transformer.pt", "linear_in_embedding.pt", "README.md", "onnx/model.onnx"]
        #expect(try HubModelResolver.filesToFetch(siblings: all, repository: repo, commit: "c")
            == ["config.json", "vocab.txt", "tokenizer.json", "linear_in_embedding.pt", "list_transformer.pt", "model.safetensors"])
        #expect(try HubModelResolver.filesToFetch(siblings: ["config.json", "tokenizer.json", "pytorch_model.bin"], repository: repo, commit: "c")
            == ["config.json", "tokenizer.json", "pytorch_model.bin"])
        #expect(throws: HubError.notAModelRepository(repository: "o/n", commit: "c",
                                                     missing: ["model.safetensors or pytorch_model.bin", "vocab.txt or tokenizer.json"])) {
            try HubModelResolver.filesToFetch(siblings: ["config.json", "README.md"], repository: repo, commit: "c")
        }
    }

    @Test func progressBarCountsBytesOfLargeFilesOnly() {
        final class Lines: @unchecked Sendable {
            let lock = NSLock()
            var all: [String] = []
            func append(_ line: String) { lock.withLock { all.append(line) } }
        }
        let lines = Lines()
        let bar = TerminalProgressBar(minimumBytes: 1_000_000, destination: .custom { lines.append($0) })
        bar.downloadStarted(file: "config.json", totalBytes: 700, resumedBytes: 0)
        bar.downloadProgressed(file: "config.json", bytesOnDisk: 700, totalBytes: 700)
        bar.downloadFinished(file: "config.json", bytesOnDisk: 700, succeeded: true)
        #expect(lines.all.isEmpty, "small files are fetched silently")

        bar.downloadStarted(file: "model.safetensors", totalBytes: 1_340_000_000, resumedBytes: 0)
        bar.downloadProgressed(file: "model.safetensors", bytesOnDisk: 612_300_000, totalBytes: 1_340_000_000)
        bar.downloadFinished(file: "model.safetensors", bytesOnDisk: 1_340_000_000, succeeded: true)
        #expect(lines.all.first?.hasPrefix("model.safetensors [##########--------------]  612.3/1340.0 MB  45%") == true,
                "\(lines.all)")
        #expect(lines.all.last?.contains("1340.0/1340.0 MB  100%") == true, "\(lines.all)")
    }
}
