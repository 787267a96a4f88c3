/// The activation gradients of one layer's backward (N tokens, H hidden, F intermediate) on the
/// backend's device, allocated once per backward and reused layer after layer: fresh buffers for
/// every layer cost the CPU a page fault and a cleared page for each of their pages (a few per
/// cent of BERT-large's backward). None is cleared, at allocation or between layers: each is
/// written whole before it is read (LayerNorm's, the products' and attention's input gradients by
/// `GradientWrite.replace`, the masked branch gradients by LayerNorm's backward with the mask,
/// before any product adds to dnormed1 or dinput). The gradients that only a linear layer's backward reads (its products
/// and its bias's column sums), the context's, which only attention's products read, and GELU's
/// output gradient, which a product writes and only GELU's backward reads, are product operands:
/// bf16 on a GPU in bf16 mode (where autocast's are bf16 too).
final class EncoderLayerGradientBuffers<Backend: TrainingBackend> {
    typealias Buffer = Backend.Buffer
    private(set) var doutput: Buffer   // [N, H] gradient of the layer's output (from the layer above)
    private(set) var dinput: Buffer    // [N, H] gradient of its input: the next layer down's doutput
    let dnormed1: Buffer               // [N, H] of the first LayerNorm's output (the second's input)
    let dbranch: Buffer                // [N, H] of a dropout branch's dense output: the masked gradient of its sum
    let dactivated: Buffer             // [N, F] product operand (written by the output layer's dX product)
    let dpreActivation: Buffer         // [N, F] product operand
    let dcontext: Buffer               // [N, H] product operand (only attention's products read it)
    let dqkv: Buffer                   // [N, 3H] product operand

    init(tokens n: Int, shape: EncoderShape, backend: Backend) throws {
        let h = shape.hidden, f = shape.intermediate
        doutput = try backend.scratch(n * h)
        dinput = try backend.scratch(n * h)
        dnormed1 = try backend.scratch(n * h)
        dbranch = try backend.productOperand(n * h)
        dactivated = try backend.productOperand(n * f)
        dpreActivation = try backend.productOperand(n * f)
        dcontext = try backend.productOperand(n * h)
        dqkv = try backend.productOperand(n * 3 * h)
    }

    /// Bytes of its buffers where a backend stores them as `storage` says: doutput, dinput and
    /// dnormed1 Float32, the rest product operands.
    static func bytes(tokens n: Int, shape: EncoderShape, storage: ActivationStorage) -> Int {
        let h = shape.hidden, f = shape.intermediate
        return storage.bytes(3 * n * h, .float32) + storage.bytes(5 * n * h + 2 * n * f, .productOperand)
    }

    /// Bytes of the buffers it holds (to check ``bytes(tokens:shape:storage:)``).
    var allocatedBytes: Int {
        [doutput, dinput, dnormed1, dbranch, dactivated, dpreActivation, dcontext, dqkv].reduce(0) { $0 + $1.bytes }
    }

    /// After a layer: its input's gradient becomes the output gradient of the layer below.
    func descend() { (doutput, dinput) = (dinput, doutput) }
}
