import Foundation
import Testing
@testable import ListConRankerTraining

/// The training attention's probabilities (a vectorised softmax with a polynomial exp, issue 15)
/// against a float64 softmax of the same scores, over ordinary scores and over rows whose
/// scores span hundreds (the smallest terms then fall under the exp's clamp).
@Suite struct EncoderAttentionSoftmaxTests {
    @Test(arguments: [1.0, 40.0])
    func probabilitiesMatchADoublePrecisionSoftmax(spread: Double) throws {
        let length = 37, hidden = 16, heads = 2, d = hidden / heads
        var generator = SeededGenerator(seed: 3)
        let qkv = FloatBuffer((0..<length * 3 * hidden).map { _ in Float((generator.unit() * 2 - 1) * spread) })
        let probabilities = FloatBuffer(count: heads * length * length)
        try EncoderAttentionOps.forward(context: nil, probabilities: probabilities.pointer, dropoutMask: nil,
                                        qkv: qkv.pointer, segments: [0..<length], hidden: hidden, heads: heads)
        var worst = 0.0
        for head in 0..<heads {
            for i in 0..<length {
                let scores = (0..<length).map { j in
                    (0..<d).reduce(0.0) { sum, c in
                        sum + Double(qkv.pointer[i * 3 * hidden + head * d + c])
                            * Double(qkv.pointer[j * 3 * hidden + hidden + head * d + c])
                    } / Double(d).squareRoot()
                }
                let maximum = scores.max() ?? 0
                let exps = scores.map { Foundation.exp($0 - maximum) }
                let total = exps.reduce(0, +)
                let row = probabilities.pointer + (head * length + i) * length
                for j in 0..<length { worst = max(worst, abs(Double(row[j]) - exps[j] / total)) }
                let sum = (0..<length).reduce(0.0) { $0 + Double(row[$1]) }
                #expect(abs(sum - 1) < 1e-5, "row \(i) of head \(head) sums to \(sum)")
            }
        }
        #expect(worst < 1e-6, "max |p − p₆₄| \(worst) at spread \(spread)")
    }
}
