import Foundation
import Testing
@testable import listconranker

/// What a new user meets first: `--version`, shell completions, the default model, the served
/// model's name, and the bf16-emulation warning.
@Suite struct UserFacingCLITests {
    @Test func versionIsPrinted() throws {
        let result = try CLI.run(["--version"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.range(of: #"^\d+\.\d+\.\d+\n$"#, options: .regularExpression) != nil, "\(result)")
    }

    @Test(arguments: ["bash", "zsh", "fish"]) func completionScriptsAreGenerated(shell: String) throws {
        let result = try CLI.run(["--generate-completion-script", shell])
        #expect(result.status == 0, "\(result)")
        for subcommand in ["rerank", "serve", "train"] {
            #expect(result.stdout.contains(subcommand), "\(shell): no \(subcommand)")
        }
    }

    /// A hub cache holding the tiny model as ByteDance/ListConRanker at `main`.
    static func cacheWithThePublishedName(in directory: TemporaryDirectory) throws -> URL {
        try ModelResolutionCLITests.makeCache(in: directory, repository: "ByteDance/ListConRanker")
    }

    /// Without `--model`, commands use ByteDance/ListConRanker from the hub cache; offline with an
    /// empty cache, the hub's clear error names it.
    @Test func withoutModelThePublishedOneIsUsed() throws {
        let offline = try CLI.run(["rerank", "高血压", "多吃蔬菜", "今天天气很好"])
        #expect(offline.status != 0)
        #expect(offline.stderr.contains("ByteDance/ListConRanker"), "\(offline)")
        #expect(offline.stderr.contains("HF_HUB_OFFLINE"), "\(offline)")

        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let environment = ["HF_HUB_CACHE": try Self.cacheWithThePublishedName(in: directory).path]
        let byDefault = try CLI.run(["rerank", "高血压", "多吃蔬菜", "今天天气很好"], environment: environment)
        try #require(byDefault.status == 0, "\(byDefault)")
        let named = try CLI.run(["rerank", "--model", CLIFixtures.tinyModel, "高血压", "多吃蔬菜", "今天天气很好"])
        #expect(byDefault.stdout == named.stdout && !named.stdout.isEmpty)
        let tokenize = try CLI.run(["tokenize"], stdinFile: try directory.file("t.txt", "你好\n"), environment: environment)
        #expect(tokenize.status == 0 && tokenize.stdout.contains("\"ids\""), "\(tokenize)")
    }

    /// Responses name a local model by its folder, a hub model by its id: never a server path.
    @Test func servedNameHidesTheServersPath() throws {
        #expect(ModelLocation.servedName(CLIFixtures.tinyModel, revision: nil) == "tiny-model")
        #expect(ModelLocation.servedName("ByteDance/ListConRanker@v1.0", revision: nil) == "ByteDance/ListConRanker")
        #expect(ModelLocation.servedName("owner/name", revision: "dev") == "owner/name")
        let command = try ServeCommand.parse(["--model", CLIFixtures.tinyModel, "--served-model-name", "reranker-v2"])
        #expect(command.servedModelName == "reranker-v2")
        #expect(throws: (any Error).self) { try ServeCommand.parse(["--model", CLIFixtures.tinyModel, "--served-model-name", " "]) }
    }

    /// bf16 on an AVX-512 CPU without native bf16 is emulated: a warning says so (this machine
    /// may have native bf16, so the decision is checked for each kind of CPU).
    @Test func bf16EmulationIsWarnedAbout() throws {
        let warning = try #require(PrecisionChoice.emulationWarning(.bf16, native: false, products: true))
        #expect(warning.contains("five times slower"))
        #expect(PrecisionChoice.emulationWarning(.bf16, native: true, products: true) == nil)
        #expect(PrecisionChoice.emulationWarning(.fp32, native: false, products: true) == nil)
        #expect(PrecisionChoice.emulationWarning(.bf16, native: false, products: false) == nil)
        let help = try CLI.run(["rerank", "--help"])
        #expect(help.stdout.contains("five times slower"), "\(help)")
    }
}
