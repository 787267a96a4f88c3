/// The BERT encoder (Hugging Face `BertModel` without the pooler, mean-pooled per text) as a
/// trainable network: a forward in training mode that keeps what its backward needs
/// (``forward(_:parameters:dropoutSeed:recomputation:)``) and a hand-written backward, layer by
/// layer in the llm.c style (``backward(_:pooledGradients:parameters:gradients:)``).
///
/// Texts are packed as in the inference ``ListConRanker/BertEncoder``: the tokens of all texts
/// are the rows of one `[N, H]` matrix for the dense layers, and attention runs per text, so
/// no padding rows exist. Token type 0 throughout; post-norm layers; erf GELU.
///
/// Dropout sits exactly where `BertModel` applies it in training: on the embeddings' output
/// (after their LayerNorm), on the attention probabilities, and on the outputs of
/// `attention.output.dense` and `output.dense` before their residual adds. Each of those sites
/// in each layer is its own ``Philox`` stream under the pass's seed (``dropoutStream(site:layer:)``),
/// element i of a mask the stream's element i: a mask is a pure function of (seed, site, layer),
/// so a layer re-run during the backward redraws the masks of the forward, and a GPU draws the
/// same masks as the CPU.
public struct EncoderNetwork: Sendable {
    /// The dimensions.
    public let shape: EncoderShape
    /// Dropout probabilities (``EncoderDropout/off`` for evaluation and gradient checks).
    public let dropout: EncoderDropout
    let offsets: EncoderOffsets

    /// Where a dropout mask is drawn (mixed into the seed so sites never share draws).
    enum DropoutSite: UInt64 {
        case embeddings = 1, attentionProbabilities = 2, attentionOutput = 3, output = 4
    }

    /// A network for parameters laid out by `layout`.
    public init(layout: EncoderParameterLayout, dropout: EncoderDropout = .off) {
        shape = layout.shape
        self.dropout = dropout
        offsets = EncoderOffsets(layout: layout)
    }

    /// The ``Philox`` stream of one dropout site of one layer (the embeddings count as layer 0)
    /// under the pass's seed: the site in the high word, the layer in the low one, so that no two
    /// (site, layer) pairs share draws. The attention probabilities' mask of a layer is one stream
    /// over the whole probability store (element i of the store, whatever text and head it
    /// belongs to), so it does not depend on how the blocks are split over threads or GPU blocks.
    static func dropoutStream(site: DropoutSite, layer: Int) -> UInt64 {
        site.rawValue << 32 | UInt64(layer)
    }

    /// Checks `texts` (non-empty, ids in the vocabulary, lengths within the positions) and
    /// returns each text's rows in the packed matrices.
    func segments(of texts: [[Int32]]) throws -> [Range<Int>] {
        var segments: [Range<Int>] = []
        var total = 0
        for ids in texts {
            guard !ids.isEmpty else { throw TrainingError.invalidInput("a text has no tokens (not even [CLS] [SEP])") }
            guard ids.count <= shape.maxPositions else {
                throw TrainingError.invalidInput("a text of \(ids.count) tokens exceeds the \(shape.maxPositions) positions")
            }
            for id in ids where id < 0 || Int(id) >= shape.vocabulary {
                throw TrainingError.invalidInput("token id \(id) outside the vocabulary of \(shape.vocabulary)")
            }
            segments.append(total..<total + ids.count)
            total += ids.count
        }
        return segments
    }

    /// Checks that `layout` is one this network was made for.
    func check(_ layout: EncoderParameterLayout) throws {
        guard layout.shape == shape else {
            throw TrainingError.invalidInput("encoder parameters of shape \(layout.shape) for a network of \(shape)")
        }
    }
}
