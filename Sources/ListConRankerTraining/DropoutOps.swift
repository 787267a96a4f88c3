/// Inverted dropout as `nn.Dropout` in training: each element is kept with probability 1 − p
/// and then scaled by 1/(1 − p), so the expectation is unchanged and evaluation needs no
/// rescaling. The mask (0 or 1/(1 − p) per element) is kept: the backward multiplies by it.
enum DropoutOps {
    /// Draws a mask for `count` elements into `mask` and multiplies `x` by it in place.
    static func forward(x: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>, count: Int,
                        probability p: Float, generator: inout SeededGenerator) {
        drawMask(mask, count: count, probability: p, generator: &generator)
        ElementOps.multiply(x, by: mask, count: count)
    }

    /// Draws a mask for `count` elements (one uniform draw each, in order) without applying it,
    /// for callers that apply it to a copy (the encoder's attention probabilities).
    static func drawMask(_ mask: UnsafeMutablePointer<Float>, count: Int, probability p: Float,
                         generator: inout SeededGenerator) {
        let scale = 1 / (1 - p)
        let threshold = Double(p)
        for i in 0..<count { mask[i] = generator.unit() >= threshold ? scale : 0 }
    }

    /// The gradient through the mask, in place: `dy ⊙= mask`.
    static func backward(dy: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>, count: Int) {
        ElementOps.multiply(dy, by: mask, count: count)
    }
}
