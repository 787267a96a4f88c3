/// The activation gradients of one layer's backward (N tokens, H hidden, F intermediate) on the
/// backend's device, allocated once per backward and reused layer after layer: fresh buffers for
/// every layer cost the CPU a page fault and a cleared page for each of their pages (a few per
/// cent of BERT-large's backward).
final class EncoderLayerGradientBuffers<Backend: TrainingBackend> {
    typealias Buffer = Backend.Buffer
    private(set) var doutput: Buffer   // [N, H] gradient of the layer's output (from the layer above)
    private(set) var dinput: Buffer    // [N, H] gradient of its input: the next layer down's doutput
    let dresidual2: Buffer             // [N, H]
    let dnormed1: Buffer               // [N, H]
    let dactivated: Buffer             // [N, F]
    let dpreActivation: Buffer         // [N, F]
    let dresidual1: Buffer             // [N, H]
    let dcontext: Buffer               // [N, H]
    let dqkv: Buffer                   // [N, 3H]

    init(tokens n: Int, shape: EncoderShape, backend: Backend) throws {
        let h = shape.hidden, f = shape.intermediate
        doutput = try backend.scratch(n * h)
        dinput = try backend.scratch(n * h)
        dresidual2 = try backend.scratch(n * h)
        dnormed1 = try backend.scratch(n * h)
        dactivated = try backend.scratch(n * f)
        dpreActivation = try backend.scratch(n * f)
        dresidual1 = try backend.scratch(n * h)
        dcontext = try backend.scratch(n * h)
        dqkv = try backend.scratch(n * 3 * h)
    }

    /// Zeroes the buffers a layer's backward adds into (LayerNorm's dx, the products' dx and the
    /// attention's dqkv accumulate); the others are overwritten whole before they are read, so
    /// none is cleared when allocated.
    func zeroAccumulated(_ backend: Backend) throws {
        for buffer in [dresidual2, dactivated, dresidual1, dcontext, dqkv] {
            try backend.clear(buffer.pointer, count: buffer.count)
        }
    }

    /// After a layer: its input's gradient becomes the output gradient of the layer below.
    func descend() { (doutput, dinput) = (dinput, doutput) }
}
