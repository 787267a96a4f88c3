/// The four C-MTEB reranking tasks, where to get them, which split is evaluated, and the
/// figures ListConRanker publishes for them (../shared/DESIGN.md §1), for comparison with a run.
public struct CMTEBRerankingTask: Sendable, Equatable {
    /// MTEB's task name, as in its results files (e.g. `CMedQAv1-reranking`).
    public let name: String
    /// The Hugging Face dataset, e.g. `C-MTEB/CMedQAv1-reranking`.
    public let hubDataset: String
    /// The dataset revision MTEB pins.
    public let revision: String
    /// The split MTEB evaluates.
    public let split: String
    /// Published MAP, MRR@1, MRR@5, MRR@10 (×100) with iterative inference.
    public let published: RerankingMetrics
    /// Published MAP (×100) without iterative inference.
    public let publishedConventionalMAP: Double

    /// CMedQAv1, CMedQAv2, MMarcoReranking, T2Reranking (names, paths, revisions and splits as in MTEB).
    public static let all: [CMTEBRerankingTask] = [
        CMTEBRerankingTask(
            name: "CMedQAv1-reranking", hubDataset: "C-MTEB/CMedQAv1-reranking",
            revision: "8d7f1e942507dac42dc58017c1a001c3717da7df", split: "test",
            published: RerankingMetrics(map: 90.55, mrrAt1: 87.8, mrrAt5: 92.33, mrrAt10: 92.45),
            publishedConventionalMAP: 90.20),
        CMTEBRerankingTask(
            name: "CMedQAv2-reranking", hubDataset: "C-MTEB/CMedQAv2-reranking",
            revision: "23d186750531a14a0357ca22cd92d712fd512ea0", split: "test",
            published: RerankingMetrics(map: 89.38, mrrAt1: 85.9, mrrAt5: 91.09, mrrAt10: 91.29),
            publishedConventionalMAP: 89.98),
        CMTEBRerankingTask(
            name: "MMarcoReranking", hubDataset: "C-MTEB/Mmarco-reranking",
            revision: "8e0c766dbe9e16e1d221116a3f36795fbade07f6", split: "dev",
            published: RerankingMetrics(map: 43.88, mrrAt1: 32.0, mrrAt5: 43.62, mrrAt10: 44.70),
            publishedConventionalMAP: 37.52),
        CMTEBRerankingTask(
            name: "T2Reranking", hubDataset: "C-MTEB/T2Reranking",
            revision: "76631901a18387f85eaa53e5450019b87ad58ef9", split: "dev",
            published: RerankingMetrics(map: 69.17, mrrAt1: 67.42, mrrAt5: 79.72, mrrAt10: 80.09),
            publishedConventionalMAP: 69.17),
    ]

    /// The task with this name, ignoring case (`cmedqav1-reranking` finds `CMedQAv1-reranking`).
    public static func named(_ name: String) -> CMTEBRerankingTask? {
        all.first { $0.name.lowercased() == name.lowercased() }
    }
}
