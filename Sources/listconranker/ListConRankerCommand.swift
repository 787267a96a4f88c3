import ArgumentParser
import Foundation
import ListConRanker
import ListConRankerServer

@main
struct ListConRankerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listconranker",
        abstract: "ListConRanker: a listwise contrastive text reranker, in Swift.",
        discussion: """
            Shell completions: listconranker --generate-completion-script bash (or zsh, fish); \
            see the README's "Shell completions".
            """,
        version: RerankService.version,
        subcommands: [
            RerankCommand.self,
            IndexCommand.self,
            ScoreCommand.self,
            EmbedCommand.self,
            EvalCommand.self,
            ServeCommand.self,
            DownloadCommand.self,
            InspectCommand.self,
            TokenizeCommand.self,
            BenchCommand.self,
            TrainCommand.self,
        ]
    )

    static func main() async {
        ProcessMemory.keepFreedMemoryForReuse()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CUDAError {
            // A GPU that cannot be used (no driver, no cuBLASLt or NVRTC, no such GPU): one line, exit 2.
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            exit(withError: ExitCode(2))
        } catch {
            exit(withError: error)
        }
    }
}
