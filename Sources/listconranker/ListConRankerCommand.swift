import ArgumentParser
import ListConRanker

@main
struct ListConRankerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listconranker",
        abstract: "ListConRanker: a listwise contrastive text reranker, in Swift.",
        subcommands: [
            RerankCommand.self,
            ScoreCommand.self,
            EmbedCommand.self,
            EvalCommand.self,
            ServeCommand.self,
            DownloadCommand.self,
            InspectCommand.self,
            TokenizeCommand.self,
            BenchCommand.self,
        ]
    )
}
