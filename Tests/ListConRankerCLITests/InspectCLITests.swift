import Foundation
import Testing

/// `inspect` on the tiny model's directory and one of its checkpoint files.
@Suite struct InspectCLITests {
    struct Report: Decodable {
        struct Directory: Decodable { let kind: String; let absent: [String]; let missingForListConRanker: [String] }
        struct Checkpoint: Decodable { let path: String; let format: String; let parameterCount: Int }
        let directory: Directory?
        let checkpoints: [Checkpoint]
        let parameterCount: Int
        let residentBytesAfterOpen: Int?
    }

    @Test func directoryJSONNamesAListConRankerAndItsCheckpoints() throws {
        let result = try CLI.run(["inspect", CLIFixtures.tinyModel, "--json", "--memory"])
        try #require(result.status == 0, "\(result)")
        let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
        #expect(report.directory?.kind == "listconranker")
        #expect(report.directory?.missingForListConRanker == [])
        let files = Set(report.checkpoints.map { URL(fileURLWithPath: $0.path).lastPathComponent })
        #expect(files == ["model.safetensors", "linear_in_embedding.pt", "list_transformer.pt"])
        #expect(report.parameterCount == report.checkpoints.reduce(0) { $0 + $1.parameterCount } && report.parameterCount > 0)
        #if os(Linux)
        #expect((report.residentBytesAfterOpen ?? 0) > 1_000_000, "VmRSS of a running process is megabytes")
        #endif
    }

    @Test func fileTextListsTensors() throws {
        let result = try CLI.run(["inspect", CLIFixtures.path("tiny-model/model.safetensors")])
        try #require(result.status == 0, "\(result)")
        #expect(result.stdout.contains("model.safetensors: safetensors"), "\(result)")
        #expect(result.stdout.contains("embeddings.word_embeddings.weight"), "\(result)")
        #expect(result.stdout.contains("[10000, 16]"), "\(result)")
    }

    @Test func missingPathIsAnError() throws {
        let result = try CLI.run(["inspect", "/nonexistent/model"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("Error: /nonexistent/model: no such file or directory"), "\(result)")
    }
}
