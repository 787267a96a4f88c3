import Foundation

/// The four reranking metrics as percentages (means over scored samples, ×100).
public struct RerankingMetrics: Sendable, Equatable, Codable {
    /// Mean average precision; MTEB's main score for reranking.
    public var map: Double
    /// Mean reciprocal rank of the first positive within the top 1.
    public var mrrAt1: Double
    /// Mean reciprocal rank of the first positive within the top 5.
    public var mrrAt5: Double
    /// Mean reciprocal rank of the first positive within the top 10.
    public var mrrAt10: Double

    /// Metrics from their values (already ×100).
    public init(map: Double, mrrAt1: Double, mrrAt5: Double, mrrAt10: Double) {
        self.map = map
        self.mrrAt1 = mrrAt1
        self.mrrAt5 = mrrAt5
        self.mrrAt10 = mrrAt10
    }

    /// MTEB's `main_score` for reranking: the MAP.
    public var mainScore: Double { map }

    enum CodingKeys: String, CodingKey {
        case map
        case mrrAt1 = "mrr_at_1"
        case mrrAt5 = "mrr_at_5"
        case mrrAt10 = "mrr_at_10"
    }
}

/// The outcome of one evaluation run, shaped like an MTEB results file.
///
/// Encoded (with ``encode(to:)``) as
/// `{"task_name", "scores": {SPLIT: [{"hf_subset": "default", "main_score", "map", "mrr_at_1",
/// "mrr_at_5", "mrr_at_10"}]}, "evaluation_time", …}` plus this project's fields
/// (`samples_scored`, `samples_skipped`, `samples_resumed`, `mode`, `precision`,
/// `model_directory`, `data_file`). Unlike MTEB's files, scores are percentages (×100),
/// the way the published figures are quoted.
public struct RerankingResults: Sendable, Equatable, Codable {
    /// The task, e.g. `T2Reranking`.
    public var taskName: String
    /// The dataset split, e.g. `dev`.
    public var split: String
    /// The metrics, ×100.
    public var metrics: RerankingMetrics
    /// Samples that entered the metrics (including those taken from a resumed scores file).
    public var samplesScored: Int
    /// Samples skipped for lacking a positive or a negative.
    public var samplesSkipped: Int
    /// Of ``samplesScored``, those whose scores came from the scores file being resumed.
    public var samplesResumed: Int
    /// How lists were scored, e.g. `iterative` or `conventional`.
    public var mode: String
    /// Numeric precision of the model, e.g. `fp32` or `bf16`.
    public var precision: String
    /// Seconds this run spent (loading the data and scoring; not the resumed samples' time).
    public var evaluationTime: Double
    /// The model directory, when the caller gave one.
    public var modelDirectory: String?
    /// The dataset file, when the data came from one.
    public var dataFile: String?

    /// Results from their parts.
    public init(
        taskName: String, split: String, metrics: RerankingMetrics,
        samplesScored: Int, samplesSkipped: Int, samplesResumed: Int,
        mode: String, precision: String, evaluationTime: Double,
        modelDirectory: String?, dataFile: String?
    ) {
        self.taskName = taskName
        self.split = split
        self.metrics = metrics
        self.samplesScored = samplesScored
        self.samplesSkipped = samplesSkipped
        self.samplesResumed = samplesResumed
        self.mode = mode
        self.precision = precision
        self.evaluationTime = evaluationTime
        self.modelDirectory = modelDirectory
        self.dataFile = dataFile
    }

    /// The results as pretty, key-sorted JSON (what `--output` writes).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    private enum CodingKeys: String, CodingKey {
        case taskName = "task_name"
        case scores
        case evaluationTime = "evaluation_time"
        case samplesScored = "samples_scored"
        case samplesSkipped = "samples_skipped"
        case samplesResumed = "samples_resumed"
        case mode, precision
        case modelDirectory = "model_directory"
        case dataFile = "data_file"
    }

    /// One entry of MTEB's per-split score list: the subset, the main score and the metrics side by side.
    private struct SplitScores: Codable {
        var hfSubset = "default"
        var mainScore: Double
        var map: Double
        var mrrAt1: Double
        var mrrAt5: Double
        var mrrAt10: Double

        private enum CodingKeys: String, CodingKey {
            case hfSubset = "hf_subset"
            case mainScore = "main_score"
            case map
            case mrrAt1 = "mrr_at_1"
            case mrrAt5 = "mrr_at_5"
            case mrrAt10 = "mrr_at_10"
        }

        init(metrics: RerankingMetrics) {
            mainScore = metrics.mainScore
            map = metrics.map
            mrrAt1 = metrics.mrrAt1
            mrrAt5 = metrics.mrrAt5
            mrrAt10 = metrics.mrrAt10
        }

        var metrics: RerankingMetrics {
            RerankingMetrics(map: map, mrrAt1: mrrAt1, mrrAt5: mrrAt5, mrrAt10: mrrAt10)
        }
    }

    /// Decodes the shape ``encode(to:)`` writes (one split, one subset).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        taskName = try container.decode(String.self, forKey: .taskName)
        let scores = try container.decode([String: [SplitScores]].self, forKey: .scores)
        guard scores.count == 1, let (split, entries) = scores.first, let entry = entries.first, entries.count == 1 else {
            throw DecodingError.dataCorruptedError(
                forKey: .scores, in: container, debugDescription: "expected exactly one split with one subset")
        }
        self.split = split
        metrics = entry.metrics
        evaluationTime = try container.decode(Double.self, forKey: .evaluationTime)
        samplesScored = try container.decode(Int.self, forKey: .samplesScored)
        samplesSkipped = try container.decode(Int.self, forKey: .samplesSkipped)
        samplesResumed = try container.decode(Int.self, forKey: .samplesResumed)
        mode = try container.decode(String.self, forKey: .mode)
        precision = try container.decode(String.self, forKey: .precision)
        modelDirectory = try container.decodeIfPresent(String.self, forKey: .modelDirectory)
        dataFile = try container.decodeIfPresent(String.self, forKey: .dataFile)
    }

    /// Encodes in MTEB's results shape (see the type's documentation).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(taskName, forKey: .taskName)
        try container.encode([split: [SplitScores(metrics: metrics)]], forKey: .scores)
        try container.encode(evaluationTime, forKey: .evaluationTime)
        try container.encode(samplesScored, forKey: .samplesScored)
        try container.encode(samplesSkipped, forKey: .samplesSkipped)
        try container.encode(samplesResumed, forKey: .samplesResumed)
        try container.encode(mode, forKey: .mode)
        try container.encode(precision, forKey: .precision)
        try container.encodeIfPresent(modelDirectory, forKey: .modelDirectory)
        try container.encodeIfPresent(dataFile, forKey: .dataFile)
    }
}
