/// A BERT WordPiece tokenizer whose ids match Hugging Face transformers' fast `BertTokenizer`
/// (`AutoTokenizer`, backed by the Rust `tokenizers` crate) for the same model directory.
///
/// Text is split on the special tokens first (they are never normalized or split), then cleaned,
/// CJK-isolated, accent-stripped and lower-cased as configured, split into words on whitespace and
/// punctuation, and each word cut into WordPiece pieces. ``encode(_:maxLength:)`` adds
/// `[CLS]` and `[SEP]` and truncates to `maxLength` tokens.
///
/// ```swift
/// let tokenizer = try BertTokenizer(directory: modelDirectory)
/// let encoded = tokenizer.encode("我们今天去北京。")
/// // encoded.ids: [101, ..., 102]
/// ```
public struct BertTokenizer: Sendable {
    /// The settings this tokenizer was built with.
    public let configuration: BertTokenizerConfiguration
    /// Number of distinct vocabulary entries (as `tokenizers`' `get_vocab_size()` counts them).
    public let vocabularySize: Int
    /// Id of `[CLS]`, which starts every encoded text.
    public let clsID: Int32
    /// Id of `[SEP]`, which ends every encoded text.
    public let sepID: Int32
    /// Id of `[PAD]`, used by padded batch encoding.
    public let padID: Int32
    /// Id of `[UNK]`, which stands for a word WordPiece cannot cut into known pieces.
    public let unkID: Int32

    private let splitter: BertWordSplitter
    private let wordPiece: WordPiece
    private let addedTokens: AddedTokenMatcher
    /// The vocabulary entry of each id ("" where no entry has that id).
    private let tokenForID: [String]

    /// A tokenizer from a vocabulary (token → id) and settings.
    ///
    /// - Throws: ``TokenizerError/missingSpecialToken(role:token:)`` when the unknown, classifier,
    ///   separator or padding token is not in `vocabulary`;
    ///   ``TokenizerError/tokenIDOutOfRange(token:id:limit:)`` for a negative id or one past
    ///   ``idLimit(entryCount:)``.
    public init(vocabulary: [String: Int32], configuration: BertTokenizerConfiguration = .init()) throws {
        let limit = Self.idLimit(entryCount: vocabulary.count + configuration.addedTokens.count)
        for (token, id) in vocabulary where id < 0 || Int(id) >= limit {
            throw TokenizerError.tokenIDOutOfRange(token: token, id: id, limit: limit)
        }
        for (token, id) in configuration.addedTokens where id < 0 || Int(id) >= limit {
            throw TokenizerError.tokenIDOutOfRange(token: token, id: id, limit: limit)
        }
        func requireID(_ role: String, _ token: String) throws -> Int32 {
            if let id = configuration.addedTokens[token] ?? vocabulary[token] { return id }
            throw TokenizerError.missingSpecialToken(role: role, token: token)
        }
        self.configuration = configuration
        self.vocabularySize = vocabulary.count
        self.unkID = try requireID("unknown", configuration.unknownToken)
        self.clsID = try requireID("classifier", configuration.classifierToken)
        self.sepID = try requireID("separator", configuration.separatorToken)
        self.padID = try requireID("padding", configuration.paddingToken)
        self.splitter = BertWordSplitter(
            cleanText: configuration.cleanText,
            isolateChineseCharacters: configuration.isolateChineseCharacters,
            stripAccents: configuration.stripsAccents,
            lowercase: configuration.lowercase)
        self.wordPiece = WordPiece(
            vocabulary: vocabulary,
            continuingSubwordPrefix: configuration.continuingSubwordPrefix,
            unknownID: unkID,
            maxInputCharactersPerWord: configuration.maxInputCharactersPerWord)
        var special = configuration.addedTokens
        for token in [configuration.unknownToken, configuration.classifierToken, configuration.separatorToken,
                      configuration.paddingToken, configuration.maskToken] where special[token] == nil {
            if let id = vocabulary[token] { special[token] = id }
        }
        self.addedTokens = AddedTokenMatcher(special.map { (content: $0.key, id: $0.value) })
        // Every id was checked against the limit above, so this table is at most twice the
        // size of the entries it holds and every emitted id has a slot.
        let largestID = max(vocabulary.values.max() ?? -1, special.values.max() ?? -1)
        var tokenForID = [String](repeating: "", count: Int(largestID) + 1)
        for (token, id) in vocabulary { tokenForID[Int(id)] = token }
        for (token, id) in special { tokenForID[Int(id)] = token }
        self.tokenForID = tokenForID
    }

    /// The bound on token ids for a vocabulary of `entryCount` entries (vocabulary plus added
    /// tokens): ids index a dense id → token table, so one id near `Int32.max` in a
    /// `tokenizer.json` would make loading allocate 32 GB, and a negative one would trap when
    /// emitted (both shown with the tools/fuzz harness, issue 17). Real vocabularies number
    /// their tokens densely from 0, with added tokens just past them; a `vocab.txt` with
    /// repeated lines leaves a few gaps. Twice the entries (at least 1,024) leaves ample room.
    public static func idLimit(entryCount: Int) -> Int { max(2 * entryCount, 1024) }

    /// The vocabulary entry for `id`, or nil when no entry has it.
    public func token(forID id: Int32) -> String? {
        guard id >= 0, Int(id) < tokenForID.count, !tokenForID[Int(id)].isEmpty else { return nil }
        return tokenForID[Int(id)]
    }

    /// The word pieces of `text`, without `[CLS]`/`[SEP]` and without truncation
    /// (special tokens that occur in the text are kept whole).
    public func tokenize(_ text: String) -> [String] {
        var ids: [Int32] = []
        appendPieceIDs(of: text, limit: Int.max, to: &ids)
        return ids.map { tokenForID[Int($0)] }
    }

    /// `[CLS]`, the word pieces of `text` (at most `maxLength - 2` of them), `[SEP]`.
    ///
    /// Matches `tokenizer(text, truncation=True, max_length=maxLength)` in transformers.
    /// A `maxLength` below 2 is treated as 2.
    public func encode(_ text: String, maxLength: Int = 512) -> TokenizedText {
        let pieceLimit = max(maxLength, 2) - 2
        var ids: [Int32] = [clsID]
        appendPieceIDs(of: text, limit: pieceLimit, to: &ids)
        if ids.count > pieceLimit + 1 { ids.removeSubrange((pieceLimit + 1)...) }
        ids.append(sepID)
        return TokenizedText(ids: ids, tokens: ids.map { tokenForID[Int($0)] },
                             attentionMask: [Int32](repeating: 1, count: ids.count))
    }

    /// Each text encoded as by ``encode(_:maxLength:)``; with `padToLongest`, shorter ones are
    /// filled with `[PAD]` (attention mask 0) up to the longest one's length.
    public func encode(batch texts: [String], maxLength: Int = 512, padToLongest: Bool = false) -> [TokenizedText] {
        var encoded = texts.map { encode($0, maxLength: maxLength) }
        guard padToLongest, let longest = encoded.map(\.ids.count).max() else { return encoded }
        let padToken = tokenForID[Int(padID)]
        for index in encoded.indices {
            let missing = longest - encoded[index].ids.count
            encoded[index].ids += repeatElement(padID, count: missing)
            encoded[index].tokens += repeatElement(padToken, count: missing)
            encoded[index].attentionMask += repeatElement(0, count: missing)
        }
        return encoded
    }

    /// Appends the piece ids of `text` to `ids` until at least `limit` pieces were added.
    private func appendPieceIDs(of text: String, limit: Int, to ids: inout [Int32]) {
        let target = limit == Int.max ? Int.max : ids.count + limit
        var word = WordBuffer()
        var contiguous = text
        contiguous.withUTF8 { utf8 in
            let end = utf8.count
            var position = 0
            while position <= end {
                let match = addedTokens.firstMatch(in: utf8, from: position, to: end)
                let segmentEnd = match?.start ?? end
                let keepGoing = splitter.split(utf8, from: position, to: segmentEnd, word: &word) { piece, scalarCount in
                    wordPiece.appendPieces(of: piece, scalarCount: scalarCount, to: &ids)
                    return ids.count < target
                }
                guard keepGoing, let match else { return }
                ids.append(match.id)
                if ids.count >= target { return }
                position = match.end
            }
        }
    }
}
