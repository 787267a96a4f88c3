import Foundation
import ListConRankerDistributed
import ListConRankerTensor

/// Where a run's head starts.
public enum TrainingStart: Sendable, Equatable, CustomStringConvertible {
    /// An existing ListConRanker directory: its head's weights are loaded and trained further.
    case model(URL)
    /// Any BERT directory: a new head (``ListHeadParameters/initialised(shape:seed:)``) of the
    /// configuration's width and feed-forward, with the encoder's attention-head count.
    case encoder(URL)

    /// The directory.
    public var directory: URL {
        switch self {
        case .model(let url), .encoder(let url): return url
        }
    }

    /// `model <path>` or `encoder <path>` (recorded in the training state).
    public var description: String {
        switch self {
        case .model(let url): return "model \(url.standardizedFileURL.path)"
        case .encoder(let url): return "encoder \(url.standardizedFileURL.path)"
        }
    }
}

/// The files and reporting of a run — what may change between a run and its resumption
/// (unlike ``TrainingConfiguration``).
public struct TrainingRun: Sendable {
    /// Where the head starts.
    public var start: TrainingStart
    /// Training data (JSON lines `{"query", "positive": [...], "negative": [...]}`).
    public var data: URL
    /// Output directory (see ``TrainingOutput``).
    public var output: URL
    /// Dev data for MAP and MRR@10 after each epoch (and every ``evaluateEvery`` steps).
    public var evaluationData: URL?
    /// Root of the feature cache; nil: `$XDG_CACHE_HOME/listconranker/features` or
    /// `~/.cache/listconranker/features`, shared by all runs so no text is encoded twice.
    public var featureCache: URL?
    /// JSON-lines log.
    public var log: URL?
    /// TensorBoard event directory.
    public var tensorboard: URL?
    /// Continue the run saved in ``output``.
    public var resume = false
    /// Evaluate every N optimizer steps as well as after each epoch.
    public var evaluateEvery: Int?
    /// Save the latest checkpoint and training state every N steps as well as after each epoch.
    public var saveEvery: Int?
    /// Stage 2: what the encoder's forward keeps for its backward (``EncoderRecomputation``).
    /// The gradients are the same in every mode (so a resumed run may change it); it trades time
    /// for memory. nil: ``EncoderRecomputation/automatic(hidden:)``.
    public var recomputation: EncoderRecomputation?
    /// Stop (saving the state) once this many optimizer steps are done: how tests and users
    /// cut a run short to resume it later.
    public var stopAfterStep: Int?
    /// The job's processes: one (``Communicator/single``), or the ranks of an MPI job, each taking
    /// its share of every batch (gradients summed across ranks before the step); rank 0 alone
    /// writes checkpoints, the state, logs and TensorBoard.
    public var communicator: Communicator = .single
    /// Stage 2 over several ranks: sum each encoder layer's gradients across ranks while the
    /// backward goes on below it (true, PyTorch DDP's design), or all of them after the backward
    /// (false: for measuring what the overlap saves). The weights are the same either way.
    public var overlapsReduction = true
    /// Add each phase's seconds to the log's step lines (``PhaseClock``): encoder forward, list
    /// head, encoder backward, gradient sum, optimizer. On a GPU each phase waits for the device.
    public var profilesPhases = false
    /// Where the networks train (a GPU: `cuda:N`) and, in stage 1, the feature cache's missing
    /// texts are encoded.
    public var device: Device = .cpu

    /// A run from `start` on `data` into `output`.
    public init(start: TrainingStart, data: URL, output: URL) {
        self.start = start
        self.data = data
        self.output = output
    }

    /// The feature cache root in use.
    public var resolvedFeatureCache: URL {
        if let featureCache { return featureCache }
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        return base.appendingPathComponent("listconranker/features", isDirectory: true)
    }
}

/// One optimizer step, as reported to ``Trainer/onStep``.
public struct TrainingStepReport: Sendable {
    /// Steps done (1-based: the step just taken).
    public let step: Int
    /// Steps of the whole run.
    public let totalSteps: Int
    /// Epoch of the step (1-based).
    public let epoch: Int
    /// Mean Circle Loss over the step's lists (with dropout, before the update).
    public let loss: Float
    /// Learning rate the step used.
    public let learningRate: Float
    /// Global gradient norm before clipping.
    public let gradientNorm: Float
    /// Lists in the step.
    public let lists: Int
    /// Seconds the step took (sampling, forward, backward, update).
    public let seconds: Double
    /// Of ``seconds``, those spent summing gradients across ranks after the backward had ended
    /// (0 for one process): what the all-reduce adds to a step.
    public var reduceSeconds: Double = 0
}

/// One evaluation on the dev data, as reported to ``Trainer/onEvaluation``.
public struct TrainingEvaluationReport: Sendable {
    /// Steps done when it ran (0: the untrained head).
    public let step: Int
    /// Completed epochs (fractional between epochs).
    public let epoch: Double
    /// MAP ×100.
    public let map: Double
    /// MRR@10 ×100.
    public let mrrAt10: Double
    /// Whether it is the best MAP so far (and `best/` was written).
    public let isBest: Bool
}

/// What a finished (or stopped) run did.
public struct TrainingSummary: Sendable {
    /// The head's parameters at the end.
    public let parameters: ListHeadParameters
    /// Stage 2: the encoder's parameters at the end (nil in stage 1, where it is frozen).
    public var encoder: EncoderParameters? = nil
    /// Steps done in total (including those of runs this one resumed).
    public let step: Int
    /// Steps of the whole run.
    public let totalSteps: Int
    /// Texts this run encoded with BERT (0 when the cache had them all).
    public let encodedTexts: Int
    /// Training samples skipped for lacking a positive or a negative.
    public let skippedSamples: Int
    /// Dev-set evaluations this run made.
    public let evaluations: [TrainingEvaluationReport]
    /// Each step's loss this run computed.
    public let losses: [Float]
}
