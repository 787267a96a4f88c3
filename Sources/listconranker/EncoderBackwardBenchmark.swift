import ArgumentParser
import Foundation
import ListConRanker
import ListConRankerTraining

/// `listconranker bench encoder-backward`: times stage 2's encoder work for one list, the
/// training forward (dropout as the config gives) and the hand-written backward from the pooled
/// vectors, so a script can set it beside PyTorch doing the same (tools/bench/encoder_backward_vs_pytorch.py).
struct EncoderBackwardBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encoder-backward",
        abstract: "Time the encoder's training forward + backward on the first list of a JSON-lines file.",
        discussion: """
            The loss is Σ pooled ⊙ R for a fixed R (the gradient reaching the encoder from the list head in \
            stage 2 has this form). Prints one JSON object: the median seconds per forward + backward, the \
            tokens, tokens per second, saved activations and the peak resident memory.
            """)

    @Option(name: .long, help: "A BERT or ListConRanker directory (or hub id).") var model: String
    @Option(name: .long, help: "Hub branch, tag or commit for a hub id.") var revision: String?
    @Option(name: .long, help: "JSON lines of {\"query\": …, \"passages\": […]}; the first list is used.") var input: String
    @Option(name: .long, help: "Most tokens per text.") var maxLength = 512
    @Option(name: .long, help: "Timed forward + backward passes (after one warm-up).") var repeats = 3
    @Flag var recomputation: RecomputationFlag = .noRecompute
    @Flag(name: .long, inversion: .prefixedNo, help: "Dropout as the config gives (training); --no-dropout turns it off.")
    var dropout = true

    struct Report: Codable {
        var texts: Int
        var tokens: Int
        var seconds: Double
        var allSeconds: [Double]
        var tokensPerSecond: Double
        var recomputation: String
        var dropout: Bool
        var savedActivationMiB: Double
        var peakResidentMiB: Double
    }

    func run() async throws {
        guard let list = try InputText.queryLists(input).first else { throw InputError("\(input): no list") }
        let directory = try await ModelLocation.directory(model, revision: revision)
        let (parameters, config) = try EncoderParameters.load(modelDirectory: directory)
        let tokenizer = try BertTokenizer(directory: directory)
        let texts = ([list.query] + list.passages).map { tokenizer.encode($0, maxLength: maxLength).ids }
        let network = EncoderNetwork(layout: parameters.layout, dropout: dropout ? config.dropout : .off)
        // A fixed, seeded R: the same on every pass.
        var generator = SeededGenerator(seed: 7)
        let r = (0..<texts.count * parameters.shape.hidden).map { _ in Float(generator.next() >> 40) / Float(1 << 24) - 0.5 }
        var gradients = EncoderGradients(layout: parameters.layout)
        var saved = 0
        func step(_ seed: UInt64) throws {
            let pass = try network.forward(texts, parameters: parameters, dropoutSeed: seed,
                                           recomputation: recomputation.recomputation)
            saved = pass.savedActivationBytes
            try network.backward(pass, pooledGradients: r, parameters: parameters, gradients: &gradients)
        }
        try step(0)
        var times: [Double] = []
        for i in 0..<max(repeats, 1) {
            let start = DispatchTime.now().uptimeNanoseconds
            try step(UInt64(i + 1))
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        let median = times.sorted()[times.count / 2]
        let tokens = texts.reduce(0) { $0 + $1.count }
        try JSONLineOutput.write(Report(texts: texts.count, tokens: tokens, seconds: median, allSeconds: times,
                                        tokensPerSecond: Double(tokens) / median, recomputation: recomputation.recomputation.rawValue, dropout: dropout,
                                        savedActivationMiB: Double(saved) / 1_048_576,
                                        peakResidentMiB: Double(ResidentMemory.peakBytes() ?? 0) / 1_048_576))
    }
}
