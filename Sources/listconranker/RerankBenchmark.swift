import ArgumentParser
import Foundation
import ListConRanker

/// `listconranker bench rerank`: times our scoring of the lists in a JSON-lines file, in
/// process (model loading excluded), so a script can set it beside the PyTorch reference.
struct RerankBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rerank",
        abstract: "Time conventional or iterative scoring of the lists in a JSON-lines file.",
        discussion: "Prints one JSON object: the median seconds per pass over all lists, and the work done.")

    @OptionGroup var modelOptions: ModelOptions<ReferenceDefaults>

    @Option(name: .long, help: "JSON lines of {\"query\": …, \"passages\": […]}.")
    var input: String

    @Flag(name: .long, help: "Iterative inference instead of conventional scoring.")
    var iterative = false

    @Flag(name: .long, help: "Passages as stored pooled vectors (computed once before timing, as `index` stores them): only each query is encoded, as a rerank on a feature store runs.")
    var stored = false

    @Flag(name: .long, help: "Score all lists in one call (conventional only), as a batch of lists is encoded together; by default each list is its own call.")
    var batch = false

    @Flag(name: .long, help: "Time the encoder alone: every passage's pooled vector, all lists' passages in one call (as `index` encodes a corpus).")
    var encoderOnly = false

    @Option(name: .long, help: "Timed passes over the whole input (after one warm-up pass).")
    var repeats = 3

    @Option(name: .long, help: "Also write every list's scores of the last pass to this file (JSON lines).")
    var scoresOut: String?

    @Flag(name: .long, help: ArgumentHelp(
        "Paced by standard input: after the warm-up, print {\"ready\":true}, then run one timed pass per line read and print its report.",
        discussion: "Lets a script alternate our passes with another implementation's, pass by pass, on a machine whose speed drifts (tools/bench/compare_pytorch.py)."))
    var paced = false

    struct Report: Codable {
        var mode: String
        var precision: String
        var lists: Int
        var passages: Int
        var tokens: Int
        var seconds: Double
        var allSeconds: [Double]
        var loadSeconds: Double
        var encoderTextsPerPass: Int
        var peakResidentMiB: Double
    }

    func run() async throws {
        let lists = try InputText.queryLists(input)
        // Resolved first, so a download is not counted as loading.
        let directory = try await modelOptions.directory()
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let reranker = try Reranker(modelDirectory: directory, options: modelOptions.rerankerOptions)
        let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9
        // What a feature store would hand back; the store's own look-up time is `store-bench`'s.
        let vectors = stored ? try lists.map { try reranker.pooledVectors(for: $0.passages) } : []
        if batch && (iterative || stored) { throw ValidationError("--batch is for conventional scoring of texts") }
        if encoderOnly && (batch || iterative || stored) {
            throw ValidationError("--encoder-only times the encoder alone: leave out --batch, --iterative and --stored")
        }
        func pass() throws -> [[Float]] {
            if encoderOnly { return try reranker.pooledVectors(for: lists.flatMap(\.passages)) }
            if batch { return try reranker.scores(for: lists.map { [$0.query] + $0.passages }) }
            return try lists.enumerated().map { i, list in
                switch (stored, iterative) {
                case (false, false): return try reranker.scores(query: list.query, passages: list.passages)
                case (false, true): return try reranker.iterativeScores(query: list.query, passages: list.passages)
                case (true, false): return try reranker.scores(query: list.query, passageVectors: vectors[i])
                case (true, true): return try reranker.iterativeScores(query: list.query, passageVectors: vectors[i])
                }
            }
        }
        _ = try pass()
        let tokens = lists.reduce(0) { sum, list in
            sum + ((encoderOnly ? [] : [list.query]) + list.passages).reduce(0) {
                $0 + min(reranker.tokenCount($1), modelOptions.maxLength)
            }
        }
        func timedPasses(_ count: Int) throws {
            var times = [Double]()
            var last = [[Float]]()
            let textsBefore = reranker.encoderTextCount
            for _ in 0..<count {
                let start = DispatchTime.now().uptimeNanoseconds
                last = try pass()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            if let scoresOut {
                let lines = try last.map { String(decoding: try JSONEncoder().encode(["scores": $0]), as: UTF8.self) }
                try (lines.joined(separator: "\n") + "\n").write(toFile: scoresOut, atomically: true, encoding: .utf8)
            }
            let mode = encoderOnly ? "encoder" : (iterative ? "iterative" : "conventional") + (stored ? "-stored" : "")
            let report = Report(mode: mode,
                                precision: reranker.options.precision.rawValue, lists: lists.count,
                                passages: lists.reduce(0) { $0 + $1.passages.count }, tokens: tokens,
                                seconds: times.sorted()[times.count / 2], allSeconds: times, loadSeconds: loadSeconds,
                                encoderTextsPerPass: (reranker.encoderTextCount - textsBefore) / count,
                                peakResidentMiB: Double(ResidentMemory.peakBytes() ?? 0) / 1_048_576)
            try JSONLineOutput.write(report)
        }
        guard paced else { return try timedPasses(max(repeats, 1)) }
        try JSONLineOutput.write(["ready": true])
        while readLine() != nil { try timedPasses(1) }
    }
}
