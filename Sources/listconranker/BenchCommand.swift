import ArgumentParser
import Foundation
import ListConRanker

/// `listconranker bench …`: measurements that compare us with a peer in the same run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that report speed as a ratio against a peer measured in the same run.",
        subcommands: [MatmulBench.self, RerankBench.self, EncoderBackwardBench.self]
    )
}

struct MatmulBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matmul",
        abstract: "Our Linear layer against a raw oneDNN matmul primitive of the same shape.")

    @Option(help: "Rows of the input (tokens).") var m = 2048
    @Option(help: "Input features.") var k = 1024
    @Option(help: "Output features.") var n = 4096
    @Option(help: "Timed repetitions per side (the median is reported).") var iterations = 20
    @Option(help: "Precisions to measure, comma-separated: fp32, bf16, int8, auto. For int8 the raw peer is an fp32 product (int8 has no raw oneDNN equivalent: ours adds the per-row quantisation), so its ratio is int8's speed-up over fp32.") var precision = "fp32,bf16"
    @Flag(help: "One JSON line per precision instead of a table.") var json = false
    @Flag(help: "Measure the four dense shapes of a BERT-large layer (K×N = 1024×3072, 1024×1024, 1024×4096, 4096×1024) at M rows instead of one M×K×N.")
    var modelShapes = false

    func run() throws {
        let shapes = modelShapes ? [(1024, 3072), (1024, 1024), (1024, 4096), (4096, 1024)] : [(k, n)]
        let pairs = try PrecisionChoice.list(precision).flatMap { choice in shapes.map { (choice, $0.0, $0.1) } }
        for (choice, k, n) in pairs {
            let r = try MatmulBenchmark.run(m: m, k: k, n: n, precision: choice.resolved, iterations: iterations)
            if json {
                let data = try JSONEncoder().encode(r)
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(String(format: "%@ M=%d K=%d N=%d: ours %.2f ms (%.0f GFLOP/s, %@), raw oneDNN %.2f ms (%.0f GFLOP/s, %@), ratio %.3f",
                             r.precision, m, k, n, r.ourSeconds * 1e3, r.ourGFLOPs, r.ourImplementation,
                             r.rawSeconds * 1e3, r.rawGFLOPs, r.rawImplementation, r.ratio))
            }
        }
    }
}
