import ArgumentParser
import Foundation
import ListConRanker

/// The defaults in which commands' model options differ.
protocol ModelOptionDefaults {
    static var precision: PrecisionChoice { get }
}

/// Commands that compute results to compare or keep (rerank, score, eval, embed, bench):
/// fp32, which reproduces the PyTorch reference to 1e-4.
enum ReferenceDefaults: ModelOptionDefaults {
    static var precision: PrecisionChoice { .fp32 }
}

/// `serve`: whatever this CPU multiplies fastest, since a service is there for throughput.
enum ServingDefaults: ModelOptionDefaults {
    static var precision: PrecisionChoice { .auto }
}

/// The options every model-running command shares, and the one place they become
/// ``RerankerOptions``: a command that builds its own drops the options added later.
struct ModelOptions<Defaults: ModelOptionDefaults>: ParsableArguments {
    @Option(name: .long, help: "A model directory (config.json, model.safetensors or pytorch_model.bin, vocab.txt or tokenizer.json; a ListConRanker also linear_in_embedding.pt and list_transformer.pt) or a hub repository id (owner/name, owner/name@revision); the published model from the Hugging Face cache by default.")
    var model: String = ModelLocation.defaultModel

    @Option(name: .long, help: "Hub branch, tag or commit when --model is a repository id (default: main).")
    var revision: String?

    @Option(name: .long, help: ArgumentHelp(
        "Matrix-product precision: fp32 (the parity mode; no TF32 on a GPU), bf16, fp16 (GPU only), int8 (CPU only: the encoder's products quantised; scores differ from fp32 by up to a few hundredths), or auto (bf16 on a GPU or where the CPU has native bf16; never int8).",
        discussion: "Default: bf16 on a GPU; on the CPU \(Defaults.precision.rawValue). " + PrecisionChoice.emulationNote))
    var precision: PrecisionChoice?

    @Option(name: .long, help: ArgumentHelp(
        "Where the model runs: cpu, cuda (GPU 0) or cuda:N.",
        discussion: "A GPU needs the NVIDIA driver, and cuBLASLt and NVRTC from CUDA 12 or 13 or from PyTorch's CUDA wheels; see the README."))
    var device: Device = .cpu

    @Option(name: .long, help: "Most tokens per text, [CLS] and [SEP] included; longer texts are truncated.")
    var maxLength: Int = RerankerOptions().maxLength

    @Option(name: .long, help: "Most tokens the encoder takes at once; lower bounds memory on long lists.")
    var encoderBatchTokens: Int = RerankerOptions.defaultEncoderBatchTokens

    func validate() throws {
        guard maxLength >= 2 else {
            throw ValidationError("--max-length must be at least 2 (room for [CLS] and [SEP]), not \(maxLength)")
        }
        guard encoderBatchTokens >= 1 else {
            throw ValidationError("--encoder-batch-tokens must be at least 1, not \(encoderBatchTokens)")
        }
        try ModelLocation.validate(model, revision: revision)
        if !device.isGPU { PrecisionChoice.warnIfEmulated(resolvedPrecision) }
    }

    /// The precision the options ask for on their device (bf16 on a GPU unless given).
    var resolvedPrecision: Precision {
        if let precision { return precision.resolved(on: device) }
        return device.isGPU ? .bf16 : Defaults.precision.resolved(on: device)
    }

    /// The options as the library takes them (`auto` resolved for the device).
    var rerankerOptions: RerankerOptions {
        RerankerOptions(precision: resolvedPrecision, maxLength: maxLength, encoderBatchTokens: encoderBatchTokens,
                        device: device)
    }

    /// The local model directory: `--model` itself, or its snapshot in the Hugging Face cache
    /// (downloaded first when needed).
    func directory() async throws -> URL {
        try await ModelLocation.directory(model, revision: revision)
    }

    func makeReranker() async throws -> Reranker {
        try Reranker(modelDirectory: await directory(), options: rerankerOptions)
    }
}
