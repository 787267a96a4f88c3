/// The list head as a trainable network: `linear_in_embedding` → query tag + LayerNorm →
/// post-norm transformer layers under the ListAttention mask → score head, in the order of the
/// inference ``ListConRanker/ListTransformer`` (DESIGN §1.1 steps 4–5), with a forward that
/// keeps its activations (``forward(_:parameters:dropoutSeed:)``) and a hand-written backward
/// (``backward(_:logitGradients:parameters:gradients:)``).
///
/// Dropout, when on, sits where `nn.TransformerEncoderLayer` applies it in training: on the
/// attention weights, after `out_proj`, after the GELU, and after `linear2`. Nothing outside
/// the transformer layers drops (the original has no other dropout in the head).
public struct ListHeadNetwork: Sendable {
    /// The dimensions.
    public let shape: ListHeadShape
    /// Dropout probability (0 turns dropout off: evaluation, and the gradient checks).
    public let dropout: Float
    /// LayerNorm epsilon of every LayerNorm in the head (`nn.LayerNorm`'s default).
    public static let layerNormEpsilon: Float = 1e-5
    let offsets: ListHeadOffsets

    /// A network for parameters laid out by `layout`; throws unless 0 ≤ `dropout` < 1.
    public init(layout: ParameterLayout, dropout: Float = 0) throws {
        guard dropout >= 0, dropout < 1 else {
            throw TrainingError.invalidInput("dropout must be in [0, 1), got \(dropout)")
        }
        shape = layout.shape
        self.dropout = dropout
        offsets = ListHeadOffsets(layout: layout)
    }

    /// Checks that `parameters` and `batch` fit this network.
    func check(_ batch: ListBatch, _ layout: ParameterLayout) throws { try check(batch.lists, layout) }

    /// Checks that `parameters` and lists of vectors of `lists.hidden` fit this network.
    func check(_ lists: ListRows, _ layout: ParameterLayout) throws {
        guard layout.shape == shape else {
            throw TrainingError.invalidInput("parameters of shape (\(layout.shape)) for a network of (\(shape))")
        }
        guard lists.hidden == shape.hidden else {
            throw TrainingError.invalidInput("pooled vectors of \(lists.hidden) for a head of hidden \(shape.hidden)")
        }
    }
}
