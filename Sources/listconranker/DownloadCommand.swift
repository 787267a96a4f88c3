import ArgumentParser
import Foundation
import ListConRanker

/// `listconranker download MODEL [--revision R]`: fetches a hub model into the Hugging Face
/// cache (or checks a local path) and prints the directory other commands can load.
struct DownloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a model from the Hugging Face hub into the local cache and print its directory.",
        discussion: """
            MODEL is a repository id (owner/name, or owner/name@revision) or a local path, which is \
            printed as is. Files go to the cache huggingface_hub uses ($HF_HUB_CACHE, else \
            $HF_HOME/hub, else ~/.cache/huggingface/hub). HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE=1 \
            are honoured.
            """
    )

    @Argument(help: "A hub repository id (e.g. owner/name, owner/name@revision) or a local path.")
    var model: String = ModelLocation.defaultModel

    @Option(help: "Branch, tag or commit to download (default: main).")
    var revision: String?

    func run() async throws {
        print(try await ModelLocation.directory(model, revision: revision).path)
    }
}
