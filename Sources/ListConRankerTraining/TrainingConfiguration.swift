import Foundation
import ListConRanker

/// The hyper-parameters of a run (stage 1: encoder frozen, list head trained; stage 2: everything
/// trained, backward through BERT): everything that decides the weights a run reaches. A resumed run must have the same value (``differences(from:)``
/// names what changed); where files go and how often to report are in ``TrainingRun`` instead.
public struct TrainingConfiguration: Codable, Equatable, Sendable {
    /// Training stage: 1 trains the list head on cached features of a frozen encoder; 2 trains
    /// every parameter, the encoder included (the model card's second stage).
    public var stage = 1
    /// Passes over the training queries.
    public var epochs = 4
    /// Lists (queries) per optimizer step (the model card's stage-1 batch: 1024).
    public var batchSize = 1024
    /// Lists per forward/backward; gradients of a step's micro-batches add up before the
    /// step (gradient accumulation), so memory is bounded by this, not by ``batchSize``.
    public var microBatchSize = 64
    /// Passages per sampled list (the query comes on top); the model card's "about 20".
    public var listSize = 20
    /// Most positives in a list; nil means half the list (``resolvedMaxPositives``).
    public var maxPositives: Int?
    /// Peak learning rate (after warm-up). 1e-4: stage 1 mostly trains a head from scratch on a
    /// frozen encoder, where the fine-tuning habit of 2e-5 is meant for pre-trained weights. What
    /// matters as much is the number of steps: on the manpages-zh task (457 queries; BENCHMARKS.md,
    /// Training) 32 steps at 1e-4 reached dev MAP 38, 232 steps (batch 16) at 2e-4 reached 68.
    /// Stage 2 fine-tunes a pre-trained encoder: 2e-5 there.
    public var learningRate: Float = 1e-4
    /// Fraction of all steps spent warming up linearly (rounded up to whole steps).
    public var warmupRatio: Float = 0.1
    /// AdamW's decoupled weight decay (biases and LayerNorms exempt).
    public var weightDecay: Float = 0.01
    /// Clip gradients to this global norm.
    public var maxGradNorm: Float = 1.0
    /// Dropout in the transformer layers (`nn.TransformerEncoderLayer`'s default).
    public var dropout: Float = 0.1
    /// Circle Loss scale γ.
    public var gamma: Float = 32
    /// Circle Loss margin m.
    public var margin: Float = 0.25
    /// Seed of the head's initialisation, the query order, the list sampling and dropout.
    public var seed: UInt64 = 42
    /// List width of a new head (``TrainingStart/encoder(_:)``): the published model's 1792.
    public var headWidth = 1792
    /// Feed-forward width of a new head: the published model's 2048.
    public var headFeedForward = 2048
    /// Transformer layers of a new head: the published model's 2.
    public var headLayers = 2
    /// Most tokens per text when the frozen encoder computes features.
    public var maxLength = 512
    /// `fp32` or `bf16`: on a GPU (``TrainingRun/device``), the training products' precision, where
    /// `bf16` is mixed precision as PyTorch's autocast does it (bf16 copies of each product's
    /// inputs, fp32 accumulation, fp32 master weights, gradients and AdamW state), in stage 1 (the
    /// head, on features the encoder computed in bf16) and stage 2. The CPU trains in fp32: its
    /// stage 1 in bf16 is the frozen encoder's features' precision alone, and it refuses stage 2 in
    /// bf16 (its bf16 products need AVX-512 bf16, see BENCHMARKS.md).
    public var precision: Precision = .fp32

    /// The defaults above.
    public init() {}

    /// Positives allowed in one list.
    public var resolvedMaxPositives: Int { min(maxPositives ?? max(1, listSize / 2), listSize - 1) }

    /// Throws ``TrainingError/invalidInput(_:)`` naming the first value out of range.
    public func validate() throws {
        func require(_ condition: Bool, _ message: String) throws {
            if !condition { throw TrainingError.invalidInput(message) }
        }
        try require(stage == 1 || stage == 2, "training stage must be 1 (list head) or 2 (everything), got \(stage)")
        try require(listSize >= 2, "list size must be at least 2 (a positive and a negative), got \(listSize)")
        try require(epochs >= 1, "epochs must be at least 1, got \(epochs)")
        try require(batchSize >= 1, "batch size must be at least 1 list, got \(batchSize)")
        try require(microBatchSize >= 1, "micro-batch size must be at least 1 list, got \(microBatchSize)")
        try require(maxPositives.map { $0 >= 1 } ?? true, "max positives must be at least 1, got \(maxPositives ?? 0)")
        try require(learningRate.isFinite && learningRate > 0, "learning rate must be positive, got \(learningRate)")
        try require((0...1).contains(warmupRatio), "warm-up ratio must be in [0, 1], got \(warmupRatio)")
        try require(weightDecay.isFinite && weightDecay >= 0, "weight decay must be ≥ 0, got \(weightDecay)")
        try require(maxGradNorm.isFinite && maxGradNorm > 0, "max gradient norm must be positive, got \(maxGradNorm)")
        try require(dropout >= 0 && dropout < 1, "dropout must be in [0, 1), got \(dropout)")
        try require(gamma.isFinite && gamma > 0, "gamma must be positive, got \(gamma)")
        try require(margin.isFinite && margin >= 0 && margin < 0.5, "margin must be in [0, 0.5), got \(margin)")
        try require(headWidth >= 1 && headFeedForward >= 1 && headLayers >= 1,
                    "head sizes must be positive (width \(headWidth), feed-forward \(headFeedForward), layers \(headLayers))")
        try require(maxLength >= 2, "max length must be at least 2 tokens, got \(maxLength)")
        try require(precision == .fp32 || precision == .bf16, "feature precision must be fp32 or bf16, got \(precision.rawValue)")
    }

    /// `name: old → new` for each hyper-parameter that differs from `other` (empty when equal).
    /// Throws ``TrainingError/invalidInput(_:)`` when either value cannot be encoded (a non-finite
    /// number): "no differences" must never stand for "could not compare", or a resume with
    /// changed settings would pass.
    public func differences(from other: TrainingConfiguration) throws -> [String] {
        func fields(_ value: TrainingConfiguration) throws -> [String: String] {
            let object: Any
            do {
                object = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(value))
            } catch {
                throw TrainingError.invalidInput("the training settings cannot be compared (\(error))")
            }
            guard let fields = object as? [String: Any] else {
                throw TrainingError.invalidInput("the training settings did not encode as a JSON object")
            }
            return fields.mapValues { "\($0)" }
        }
        let mine = try fields(self), theirs = try fields(other)
        return Set(mine.keys).union(theirs.keys).sorted().compactMap { key in
            mine[key] == theirs[key] ? nil : "\(key): \(theirs[key] ?? "unset") → \(mine[key] ?? "unset")"
        }
    }
}
