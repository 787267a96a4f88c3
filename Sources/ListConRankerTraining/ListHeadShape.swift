/// The dimensions of ListConRanker's list head (`linear_in_embedding` + ListTransformer).
///
/// The published model has hidden 1024, width 1792, feed-forward 2048, 16 heads, 2 layers.
public struct ListHeadShape: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// Encoder hidden size: the width of the pooled vectors going in.
    public let hidden: Int
    /// List feature width (`linear_in_embedding`'s output, the transformer's d_model).
    public let width: Int
    /// Feed-forward width of each transformer layer (`linear1` output).
    public let feedForward: Int
    /// Attention heads (the BERT config's `num_attention_heads`, as the original passes it).
    public let heads: Int
    /// Transformer encoder layers.
    public let layers: Int

    /// Checks and makes a shape; throws if a size is not positive or the width does not
    /// split into `heads` equal heads.
    public init(hidden: Int, width: Int, feedForward: Int, heads: Int, layers: Int) throws {
        guard hidden > 0, width > 0, feedForward > 0, heads > 0, layers > 0 else {
            throw TrainingError.invalidInput("list head sizes must be positive: hidden \(hidden), width \(width), "
                + "feed-forward \(feedForward), heads \(heads), layers \(layers)")
        }
        guard width % heads == 0 else {
            throw TrainingError.invalidInput("list width \(width) is not a multiple of \(heads) attention heads")
        }
        self.hidden = hidden
        self.width = width
        self.feedForward = feedForward
        self.heads = heads
        self.layers = layers
    }

    /// Width of one attention head.
    public var headWidth: Int { width / heads }

    /// A one-line account for people.
    public var description: String {
        "hidden \(hidden), width \(width), feed-forward \(feedForward), \(heads) heads, \(layers) layers"
    }
}
