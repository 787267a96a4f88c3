// The CPU encoder's forward and backward as they were before they became generic over
// `TrainingBackend` (issue 30, stage 2), kept only here: `EncoderBackendSeamTests` checks that the
// generic pass on `CPUTrainingBackend` gives these results bit for bit. Renamed (`Legacy…`) so
// that both live in one test build; otherwise unchanged.
@testable import ListConRankerTraining

/// The activation gradients of one layer's backward (N tokens, H hidden, F intermediate),
/// allocated once per backward and reused layer after layer: fresh buffers for every layer
/// cost the kernel a page fault and a cleared page for each of their pages (a few per cent of
/// BERT-large's backward).
final class LegacyGradientBuffers {
    private(set) var doutput: FloatBuffer   // [N, H] gradient of the layer's output (from the layer above)
    private(set) var dinput: FloatBuffer    // [N, H] gradient of its input: the next layer down's doutput
    let dresidual2: FloatBuffer             // [N, H]
    let dnormed1: FloatBuffer               // [N, H]
    let dactivated: FloatBuffer             // [N, F]
    let dpreActivation: FloatBuffer         // [N, F]
    let dresidual1: FloatBuffer             // [N, H]
    let dcontext: FloatBuffer               // [N, H]
    let dqkv: FloatBuffer                   // [N, 3H]

    init(tokens n: Int, shape: EncoderShape) {
        let h = shape.hidden, f = shape.intermediate
        doutput = FloatBuffer(count: n * h)
        dinput = FloatBuffer(count: n * h)
        dresidual2 = FloatBuffer(count: n * h)
        dnormed1 = FloatBuffer(count: n * h)
        dactivated = FloatBuffer(count: n * f)
        dpreActivation = FloatBuffer(count: n * f)
        dresidual1 = FloatBuffer(count: n * h)
        dcontext = FloatBuffer(count: n * h)
        dqkv = FloatBuffer(count: n * 3 * h)
    }

    /// Zeroes the buffers a layer's backward adds into (LayerNorm's dx, the products' dx and the
    /// attention's dqkv accumulate); the others are overwritten whole before they are read.
    func zeroAccumulated() {
        for buffer in [dresidual2, dactivated, dresidual1, dcontext, dqkv] { buffer.zero() }
    }

    /// After a layer: its input's gradient becomes the output gradient of the layer below.
    func descend() { (doutput, dinput) = (dinput, doutput) }
}
