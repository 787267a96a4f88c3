import ArgumentParser
import Foundation
import ListConRanker

/// `listconranker download MODEL [--revision R]`: fetches a hub model into the Hugging Face
/// cache (or checks a local path) and prints the directory other commands can load.
struct DownloadCommand: ParsableCommand {
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

    @Argument(help: "A hub repository id (e.g. ByteDance/ListConRanker, owner/name@revision) or a local path.")
    var model: String

    @Option(help: "Branch, tag or commit to download (default: main).")
    var revision: String?

    func run() throws {
        do {
            let directory = try HubModelResolver().resolveBlocking(model, revision: revision)
            print(directory.path)
        } catch let error as HubError {
            // The library's messages already say what to do: print them alone, not with the usage text.
            FileHandle.standardError.write(Data("Error: \(error.description)\n".utf8))
            throw ExitCode.failure
        }
    }
}
