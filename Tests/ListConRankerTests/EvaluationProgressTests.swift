import Foundation
import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

/// Collects rendered lines from a ``ProgressReporter`` with a `.custom` destination.
final class LineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []
    var lines: [String] { lock.withLock { storage } }
    func append(_ line: String) { lock.withLock { storage.append(line) } }
}

/// A clock the test moves by hand.
final class ManualClock {
    var now = 100.0
}

@Suite struct EvaluationProgressTests {
    @Test func rendersCountRateAndTimeLeft() {
        let line = ProgressReporter.render(
            label: "T2Reranking", completed: 40, total: 100, unit: .items("queries"), newlyCompleted: 40, elapsed: 16)
        #expect(line == "T2Reranking [#########---------------]  40/100 queries  40%  2.5 queries/s  ETA 0:24  elapsed 0:16")
    }

    @Test func slowWorkShowsSecondsPerItemAndResumedWorkDoesNotCountTowardTheRate() {
        // 50 done before, 2 done now in 10 s: 5 s per query, 48 left → 4 minutes.
        let line = ProgressReporter.render(
            label: "eval", completed: 52, total: 100, unit: .items("queries"), newlyCompleted: 2, elapsed: 10)
        #expect(line.contains("5.0 s/query"))
        #expect(line.contains("ETA 4:00"))
    }

    @Test func bytesAndLongDurations() {
        let line = ProgressReporter.render(
            label: "download", completed: 250_000_000, total: 1_000_000_000, unit: .bytes,
            newlyCompleted: 250_000_000, elapsed: 5000)
        #expect(line.contains("250.0/1000.0 MB"))
        #expect(line.contains("0.1 MB/s"))
        #expect(line.contains("ETA 4:10:00"))
        let start = ProgressReporter.render(
            label: "x", completed: 0, total: 10, unit: .items("items"), newlyCompleted: 0, elapsed: 0)
        #expect(start.contains("ETA --"))
    }

    @Test func throttlesRedrawsButAlwaysDrawsTheEnd() {
        let collector = LineCollector()
        let clock = ManualClock()
        let reporter = ProgressReporter(
            label: "t", total: 1000, unit: .items("items"), destination: .custom { collector.append($0) },
            clock: { clock.now })
        for _ in 0..<999 { reporter.advance() }  // no time passes: only the first draw happens
        #expect(collector.lines.count == 1)
        clock.now += 1
        reporter.advance()
        reporter.finish()
        #expect(collector.lines.count == 3)
        #expect(collector.lines.last?.contains("1000/1000 items  100%") == true)
        #expect(reporter.completed == 1000)
    }

    @Test func quietDestinationDrawsNothing() {
        let reporter = ProgressReporter(label: "t", total: 3, destination: .none)
        reporter.advance(by: 3)
        reporter.finish()
        #expect(!reporter.isActive)
        #expect(reporter.completed == 3)
    }

    @Test func evaluatorReportsProgress() throws {
        let collector = LineCollector()
        let dataset = RerankingDataset(samples: [
            RerankingSample(query: "a", positives: ["p"], negatives: ["n"]),
            RerankingSample(query: "b", positives: [], negatives: ["n"]),
            RerankingSample(query: "c", positives: ["p"], negatives: ["n"]),
        ])
        _ = try RerankingEvaluator(dataset: dataset, mode: "m", precision: "p")
            .run(scorer: { _, passages in passages.map { _ in 0.5 } }, progress: .custom { collector.append($0) })
        #expect(collector.lines.last?.contains("2/2 queries") == true)
    }
}
