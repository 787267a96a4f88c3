/// How a ``BertTokenizer`` normalizes text and which special tokens it uses; the settings of
/// `tokenizer_config.json` (or of the `BertNormalizer` in `tokenizer.json`).
public struct BertTokenizerConfiguration: Sendable, Equatable {
    /// Lower-case the text (`do_lower_case`).
    public var lowercase: Bool
    /// Strip accents (NFD, then drop nonspacing marks). `nil` follows ``lowercase``, as in the
    /// original BERT and in Hugging Face's `strip_accents: null`.
    public var stripAccents: Bool?
    /// Drop control characters, NUL and U+FFFD and turn whitespace into spaces.
    public var cleanText: Bool
    /// Make every CJK ideograph a word of its own (`tokenize_chinese_chars`).
    public var isolateChineseCharacters: Bool
    /// A word of more scalars than this becomes the unknown token.
    public var maxInputCharactersPerWord: Int
    /// What marks a piece that continues a word (`##`).
    public var continuingSubwordPrefix: String
    /// The unknown token (`[UNK]`).
    public var unknownToken: String
    /// The classifier token that starts every sequence (`[CLS]`).
    public var classifierToken: String
    /// The separator token that ends every sequence (`[SEP]`).
    public var separatorToken: String
    /// The padding token (`[PAD]`).
    public var paddingToken: String
    /// The mask token (`[MASK]`); matched in text only when the vocabulary has it.
    public var maskToken: String
    /// Further tokens matched verbatim in the raw text before normalization and never split,
    /// with their ids (from `tokenizer.json`'s `added_tokens` or `added_tokens_decoder`).
    public var addedTokens: [String: Int32]

    /// The settings of `BertTokenizer` when a configuration names none: lower-casing on,
    /// accents following it, `[UNK] [CLS] [SEP] [PAD] [MASK]`.
    public init(
        lowercase: Bool = true,
        stripAccents: Bool? = nil,
        cleanText: Bool = true,
        isolateChineseCharacters: Bool = true,
        maxInputCharactersPerWord: Int = 100,
        continuingSubwordPrefix: String = "##",
        unknownToken: String = "[UNK]",
        classifierToken: String = "[CLS]",
        separatorToken: String = "[SEP]",
        paddingToken: String = "[PAD]",
        maskToken: String = "[MASK]",
        addedTokens: [String: Int32] = [:]
    ) {
        self.lowercase = lowercase
        self.stripAccents = stripAccents
        self.cleanText = cleanText
        self.isolateChineseCharacters = isolateChineseCharacters
        self.maxInputCharactersPerWord = maxInputCharactersPerWord
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.unknownToken = unknownToken
        self.classifierToken = classifierToken
        self.separatorToken = separatorToken
        self.paddingToken = paddingToken
        self.maskToken = maskToken
        self.addedTokens = addedTokens
    }

    /// Whether accents are stripped: ``stripAccents`` if set, else ``lowercase``.
    public var stripsAccents: Bool { stripAccents ?? lowercase }
}
