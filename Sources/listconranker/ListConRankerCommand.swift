import ArgumentParser
import ListConRanker

@main
struct ListConRankerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listconranker",
        abstract: "ListConRanker: a listwise contrastive text reranker, in Swift.",
        subcommands: [DownloadCommand.self]
    )
}
