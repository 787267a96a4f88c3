/// The operations ListConRanker's forward passes are written against, implemented once per
/// device: ``CPUBackend`` (oneDNN and the C kernels) and the CUDA backend.
///
/// The model (`BertEncoder`, `ListTransformer`) is written once, generically over a backend:
/// weights are prepared on the backend's device when the model loads (``product(weight:bias:activation:feedsProduct:)``,
/// ``normalization(gamma:beta:eps:)``, ``table(_:)``) and stay there; host tensors cross the
/// boundary only at the ends of a pass (``upload(_:)``, ``download(_:rows:)``). Everything a
/// pass needs in between is one of the operations below, each over activation matrices of
/// `[rows, columns]` that live on the device.
///
/// Layout descriptions (which rows form a text, which rows pair up) stay on the host as Swift
/// arrays: they are small, and a device backend copies them over with the call.
public protocol ComputeBackend: Sendable {
    /// An activation matrix `[rows, columns]` on this backend's device.
    associatedtype Matrix: Sendable
    /// A linear layer `y = x·Wᵀ + b` (with its activation) whose weights live on the device.
    associatedtype Product: Sendable
    /// A LayerNorm's scale, shift and epsilon on the device.
    associatedtype Normalization: Sendable
    /// A table of rows on the device (embeddings, tags), gathered by index.
    associatedtype Table: Sendable

    /// The precision of the matrix products.
    var precision: Precision { get }

    // MARK: Weights, prepared once

    /// Prepares `weight [out, in]` and an optional `bias [out]`, applying `activation` to the
    /// output. `feedsProduct` says that the output is read only by a next matrix product (a
    /// backend may then keep it in the product's input precision).
    func product(weight: Tensor, bias: Tensor?, activation: ProductActivation, feedsProduct: Bool) throws -> Product
    /// A LayerNorm's parameters: `gamma` and `beta` of the normalised width.
    func normalization(gamma: Tensor, beta: Tensor, eps: Float) throws -> Normalization
    /// A table of rows `[count, width]`.
    func table(_ rows: Tensor) throws -> Table

    // MARK: Host ↔ device

    /// A Float32 host tensor `[rows, columns]` as a matrix on the device.
    func upload(_ x: Tensor) throws -> Matrix
    /// The first `rows` rows of `x`, as a Float32 host tensor.
    func download(_ x: Matrix, rows: Int) throws -> Tensor

    // MARK: Operations

    /// `x [rows, in] → [rows, out]` through a prepared product.
    func apply(_ product: Product, to x: consuming Matrix) throws -> Matrix

    /// `LayerNorm(x + residual)` over each row (residual optional).
    func normalized(_ x: consuming Matrix, residual: Matrix?, by normalization: Normalization) throws -> Matrix

    /// ``normalized(_:residual:by:)`` and the input a next product reads (the same matrix, or a
    /// copy in the product's input precision written in the same pass).
    func normalizedWithProductInput(_ x: consuming Matrix, residual: Matrix?,
                                    by normalization: Normalization) throws -> (normalized: Matrix, productInput: Matrix)

    /// BERT's embeddings of packed texts, normalised: row r (the token at `position` of its text,
    /// id `id`) is `LayerNorm((words[id] + tokenType) + positions[position])`, texts one after
    /// another; rows from the last token up to `paddedRows` are zero. Ids must already be inside
    /// the table. Returns the input a next product reads too, as
    /// ``normalizedWithProductInput(_:residual:by:)`` does.
    func normalizedTokenEmbeddings(_ texts: [[Int32]], words: Table, tokenType: Table, positions: Table,
                                   by normalization: Normalization,
                                   paddedRows: Int) throws -> (normalized: Matrix, productInput: Matrix)

    /// `x[r] + tags[tagOfRow[r]]` for the first `tagOfRow.count` rows of `x`; rows from there up
    /// to `paddedRows` are zero.
    func addingTags(_ x: Matrix, tags: Table, tagOfRow: [Int], paddedRows: Int) throws -> Matrix

    /// Self-attention over packed sequences. `qkv` is `[rows, 3·width]`: each row's query, key
    /// and value side by side. A row attends only within its own segment; rows outside every
    /// segment come out as zeros. With `firstRowSeesOnlyItself`, each segment's first row
    /// attends to itself alone (ListAttention's query row). Returns `[rows, width]`.
    func selfAttention(qkv: consuming Matrix, width: Int, heads: Int, segments: [Range<Int>],
                       firstRowSeesOnlyItself: Bool) throws -> Matrix

    /// The mean of each segment's rows: `[segments.count, columns]`. Segments are non-empty.
    func meanPooled(_ x: Matrix, segments: [Range<Int>]) throws -> Matrix

    /// `[x[first] ; x[second]]` for each pair: `[pairs.count, 2·columns]`, then zero rows up to
    /// `paddedRows`.
    func pairedRows(_ x: Matrix, pairs: [(first: Int, second: Int)], paddedRows: Int) throws -> Matrix

    /// `[a ; b]` row by row: `[rows, wa + wb]` from `a [rows, wa]` and `b [rows, wb]`.
    func concatenatedColumns(_ a: Matrix, _ b: Matrix) throws -> Matrix
}

/// What a prepared product applies to its output.
public enum ProductActivation: Sendable, Equatable {
    /// Nothing: `x·Wᵀ + b`.
    case none
    /// GELU, erf form.
    case gelu
    /// `max(·, 0)`.
    case relu
}
