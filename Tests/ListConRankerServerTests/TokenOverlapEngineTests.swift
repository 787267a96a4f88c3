import ListConRanker
import Testing
@testable import ListConRankerServer
import ListConRankerFakeEngine

@Suite("TokenOverlapEngine")
struct TokenOverlapEngineTests {
    /// Iterative inference over scores that do not depend on the list, as this engine's do.
    func iterativeScores(_ scores: [Float]) throws -> [Float] {
        try IterativeInference.scores(passageCount: scores.count) { positions in positions.map { scores[$0] } }
    }

    @Test func iterativeRoundsRemoveTheLowestWithTies() throws {
        // 30 distinct scores: round 0 removes max(⌈6⌉, 10) = 10, leaving 20; they get +1.
        let scores = (0..<30).map { Float($0) / 100 }
        let final = try iterativeScores(scores)
        #expect(final[..<10].elementsEqual(scores[..<10]))
        #expect(final[10...].elementsEqual(scores[10...].map { $0 + 1 }))

        // A tie at the 10th lowest takes its equals out with it: 12 leave, 19 survive.
        var tied = (0..<31).map { Float($0) / 100 }
        tied[10] = tied[9]
        tied[11] = tied[9]
        let tiedFinal = try iterativeScores(tied)
        #expect(tiedFinal.filter { $0 >= 1 }.count == 19)

        // All equal: everything leaves in round 0 and nothing loops for ever.
        #expect(try iterativeScores(Array(repeating: 0.5, count: 50)) == Array(repeating: 0.5, count: 50))
    }

    @Test func truncatesOnTheRight() {
        let engine = TokenOverlapEngine(maxInputLength: 10)  // 8 characters of text
        #expect(engine.tokenCount("abc") == 5)
        #expect(engine.logit(query: "alpha", text: "alpha beta") == 4)
        #expect(engine.logit(query: "beta", text: "alpha beta") == -4)  // "beta" is past character 8
    }
}
