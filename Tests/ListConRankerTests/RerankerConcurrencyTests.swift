import Dispatch
import Foundation
import Testing
@testable import ListConRanker

/// One reranker called from several threads at once (a service's handlers, an app's tasks):
/// its calls are serialised, so every thread gets exactly the scores a lone caller gets, and the
/// shared counters add up. Run under ThreadSanitizer (`tools/sanitizers/run.sh thread`), this is
/// the check that the serialisation covers everything the calls share.
@Suite struct RerankerConcurrencyTests {
    @Test func concurrentCallersGetTheSerialScores() throws {
        let ranker = try Reranker(modelDirectory: Fixtures.url("tiny-model"))
        let golden = try #require(try ModelGoldens.all.get()["tiny-model"])
        let lists = golden.lists
        // What a lone caller gets, and how many texts each call sends through the encoder.
        var serialScores: [[Float]] = [], textsPerList: [Int] = []
        for list in lists {
            let before = ranker.encoderTextCount
            serialScores.append(try ranker.scores(query: list[0], passages: Array(list.dropFirst())))
            textsPerList.append(ranker.encoderTextCount - before)
        }
        let serial = serialScores
        let iterativeList = golden.iterative_list
        let beforeIterative = ranker.encoderTextCount
        let serialIterative = try ranker.iterativeScores(
            query: iterativeList[0], passages: Array(iterativeList.dropFirst()))
        let textsPerIterative = ranker.encoderTextCount - beforeIterative
        let before = ranker.encoderTextCount

        let calls = 16
        let results = ConcurrentResults(count: calls)
        DispatchQueue.concurrentPerform(iterations: calls) { call in
            do {
                if call % 4 == 3 {
                    let scores = try ranker.iterativeScores(
                        query: iterativeList[0], passages: Array(iterativeList.dropFirst()))
                    results.set(call, scores == serialIterative)
                } else {
                    let list = lists[call % lists.count]
                    let scores = try ranker.scores(query: list[0], passages: Array(list.dropFirst()))
                    _ = try ranker.encoderIdentity()
                    results.set(call, scores == serial[call % lists.count])
                }
            } catch {
                results.set(call, false)
            }
        }
        #expect(results.all == Array(repeating: true, count: calls), "a concurrent call's scores differ from a lone call's")
        let expected = (0..<calls).reduce(0) { sum, call in
            sum + (call % 4 == 3 ? textsPerIterative : textsPerList[call % lists.count])
        }
        #expect(ranker.encoderTextCount - before == expected)
    }
}

/// Per-call outcomes written from concurrent threads.
private final class ConcurrentResults: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Bool]

    init(count: Int) { values = Array(repeating: false, count: count) }

    func set(_ index: Int, _ value: Bool) { lock.withLock { values[index] = value } }

    var all: [Bool] { lock.withLock { values } }
}
