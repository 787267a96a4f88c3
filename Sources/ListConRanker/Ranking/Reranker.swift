import Foundation

/// Turns a text into the token ids the encoder takes (`[CLS] … [SEP]`, truncated).
protocol TextTokenizing: Sendable {
    func tokenIDs(_ text: String, maxLength: Int) -> [Int32]
}

/// Reranks passages for a query with ListConRanker.
///
/// ```swift
/// let reranker = try Reranker(modelDirectory: URL(fileURLWithPath: "ListConRanker"))
/// let ranked = try reranker.rerank(query: "高血压吃什么", passages: passages, topN: 5)
/// for r in ranked { print(r.index, r.score) }
/// ```
///
/// Scores follow the original PyTorch code: ``scores(for:)`` is its `compute_score`,
/// ``iterativeScores(query:passages:)`` its `iterative_inference` — except that each distinct
/// text goes through the BERT encoder once per call, however many rounds it survives.
/// Calls are serialised: one reranker runs one request at a time (the matrix products
/// already use every core).
public final class Reranker: @unchecked Sendable {
    /// The options the reranker was loaded with.
    public let options: RerankerOptions
    /// The network.
    public let model: ListConRankerModel
    let tokenizer: TextTokenizing
    private let batched: BatchedEncoder
    private let identity: (() throws -> String)?
    private var cachedIdentity: String?
    private let lock = NSLock()
    private var statistics = EncoderStatistics()

    /// Loads a model directory in the official layout (`config.json`, `model.safetensors` or
    /// `pytorch_model.bin`, `linear_in_embedding.pt`, `list_transformer.pt`, tokenizer files).
    public convenience init(modelDirectory: URL, options: RerankerOptions = RerankerOptions()) throws {
        let files = try ModelFiles(directory: modelDirectory)
        try self.init(model: files.loadModel(options: options), tokenizer: files.loadTokenizer(), options: options,
                      identity: {
                          try EncoderIdentity(directory: modelDirectory, maxLength: options.maxLength)
                              .forProducts(options.precision).digest
                      })
    }

    /// Loads a model named as users name them: a local directory, or a Hugging Face hub
    /// repository id (`ByteDance/ListConRanker`, `owner/name@revision`) fetched into the
    /// standard cache first (see ``HubModelResolver``).
    public static func load(model: String, revision: String? = nil,
                            options: RerankerOptions = RerankerOptions(),
                            resolver: HubModelResolver = HubModelResolver()) async throws -> Reranker {
        let directory = try await resolver.resolve(model, revision: revision)
        return try Reranker(modelDirectory: directory, options: options)
    }

    init(model: ListConRankerModel, tokenizer: TextTokenizing, options: RerankerOptions,
         identity: (() throws -> String)? = nil) throws {
        guard options.maxLength >= 2 else {
            throw ModelError.invalidInput("maxLength must be at least 2 ([CLS] and [SEP]), got \(options.maxLength)")
        }
        guard options.maxLength <= model.encoder.configuration.maxPositionEmbeddings else {
            throw ModelError.invalidInput("maxLength \(options.maxLength) exceeds the encoder's \(model.encoder.configuration.maxPositionEmbeddings) positions")
        }
        guard options.encoderBatchTokens >= 1 else {
            throw ModelError.invalidInput("encoderBatchTokens must be at least 1, got \(options.encoderBatchTokens)")
        }
        self.model = model
        self.tokenizer = tokenizer
        self.options = options
        self.identity = identity
        batched = BatchedEncoder(encoder: model.encoder, tokenizer: tokenizer, maxLength: options.maxLength,
                                 batchTokens: options.encoderBatchTokens)
    }

    /// What a stored pooled vector depends on (``EncoderIdentity``'s digest): the encoder's weights,
    /// its `config.json`, the tokenizer files, ``RerankerOptions/maxLength`` and whether the
    /// products are int8 (``EncoderIdentity/forProducts(_:)``). Vectors stored
    /// under another identity came from another encoder and must not be mixed with this one's.
    /// Computed on first use (it reads the weights once: seconds for BERT-large), then kept.
    public func encoderIdentity() throws -> String {
        try lock.withLock {
            if let cachedIdentity { return cachedIdentity }
            guard let identity else {
                throw ModelError.invalidInput("this reranker was not loaded from a model directory: it has no encoder identity")
            }
            let value = try identity()
            cachedIdentity = value
            return value
        }
    }

    /// How much work the BERT encoder has done since the reranker was made.
    public var encoderStatistics: EncoderStatistics { lock.withLock { statistics } }

    /// How many texts have gone through the BERT encoder since the reranker was made.
    public var encoderTextCount: Int { encoderStatistics.texts }

    /// Number of tokens `text` has, `[CLS]` and `[SEP]` included, before truncation.
    public func tokenCount(_ text: String) -> Int {
        tokenizer.tokenIDs(text, maxLength: Int.max).count
    }

    // MARK: - Conventional scoring

    /// Scores a batch of lists, each `[query, passage, …]`: one probability per passage, in
    /// passage order (the original's `compute_score`). A list with no passages gets `[]`.
    public func scores(for lists: [[String]]) throws -> [[Float]] {
        try lock.withLock { try conventional(lists, raw: false) }
    }

    /// Probabilities for one query's passages, in passage order (conventional scoring).
    public func scores(query: String, passages: [String]) throws -> [Float] {
        try lock.withLock { try conventional([[query] + passages], raw: false)[0] }
    }

    /// Logits (before the sigmoid) for one query's passages, in passage order.
    public func logits(query: String, passages: [String]) throws -> [Float] {
        try lock.withLock { try conventional([[query] + passages], raw: true)[0] }
    }

    // MARK: - Iterative inference

    /// Iterative inference for one list (../shared/DESIGN.md §1.2): scores in passage order, meaningful
    /// only as an order. Lists of 20 passages or fewer get conventional probabilities.
    public func iterativeScores(query: String, passages: [String]) throws -> [Float] {
        try lock.withLock {
            try validate(query: query)
            guard !passages.isEmpty else { return [] }
            let (features, rows) = try encode([query] + passages)
            return try iterative(features: features, rows: rows)
        }
    }

    // MARK: - Passages encoded once (stored pooled vectors)

    /// The mean-pooled encoder vectors of `texts` (`hidden_size` floats each, in text order): what
    /// a feature store keeps for a passage. They depend on the text and the encoder alone, so a
    /// head retrained with the encoder frozen keeps using them.
    public func pooledVectors(for texts: [String]) throws -> [[Float]] {
        try lock.withLock { try batched.pooledRows(texts, statistics: &statistics) }
    }

    /// Probabilities for passages given by their stored pooled vectors (see
    /// ``pooledVectors(for:)``), in passage order: only the query goes through the encoder.
    public func scores(query: String, passageVectors: [[Float]]) throws -> [Float] {
        try lock.withLock {
            let (features, rows) = try features(query: query, passageVectors: passageVectors)
            return rows.count < 2 ? [] : try listScores(features: features, rows: [rows], raw: false)[0]
        }
    }

    /// Logits (before the sigmoid) for passages given by their stored pooled vectors, as
    /// ``logits(query:passages:)`` gives them for the passages' texts.
    public func logits(query: String, passageVectors: [[Float]]) throws -> [Float] {
        try lock.withLock {
            let (features, rows) = try features(query: query, passageVectors: passageVectors)
            return rows.count < 2 ? [] : try listScores(features: features, rows: [rows], raw: true)[0]
        }
    }

    /// Iterative inference over passages given by their stored pooled vectors; scores as
    /// ``iterativeScores(query:passages:)`` gives them for the passages' texts.
    public func iterativeScores(query: String, passageVectors: [[Float]]) throws -> [Float] {
        try lock.withLock {
            let (features, rows) = try features(query: query, passageVectors: passageVectors)
            return rows.count < 2 ? [] : try iterative(features: features, rows: rows)
        }
    }

    // MARK: - Ranking

    /// Ranks passages for a query, best first. Lists of more than 20 passages use iterative
    /// inference unless `iterative` is false. `topN` keeps the best N (all when nil).
    /// An empty passage list gives an empty ranking.
    public func rerank(query: String, passages: [String], topN: Int? = nil, iterative: Bool = true) throws -> [RankedPassage] {
        try Self.validate(topN: topN)
        try validate(query: query)
        let scores = iterative && IterativeInference.applies(toPassageCount: passages.count)
            ? try iterativeScores(query: query, passages: passages)
            : try self.scores(query: query, passages: passages)
        return Self.ranking(scores, topN: topN)
    }

    /// ``rerank(query:passages:topN:iterative:)`` for passages given by their stored pooled vectors.
    public func rerank(query: String, passageVectors: [[Float]], topN: Int? = nil,
                       iterative: Bool = true) throws -> [RankedPassage] {
        try Self.validate(topN: topN)
        let scores = iterative && IterativeInference.applies(toPassageCount: passageVectors.count)
            ? try iterativeScores(query: query, passageVectors: passageVectors)
            : try self.scores(query: query, passageVectors: passageVectors)
        return Self.ranking(scores, topN: topN)
    }

    private static func validate(topN: Int?) throws {
        if let topN, topN < 0 { throw ModelError.invalidInput("topN must not be negative, got \(topN)") }
    }

    /// Positions best first (ties keep input order), the best `topN` when given.
    private static func ranking(_ scores: [Float], topN: Int?) -> [RankedPassage] {
        let ranked = scores.enumerated()
            .map { RankedPassage(index: $0.offset, score: $0.element) }
            .sorted { ($0.score, -$0.index) > ($1.score, -$1.index) }
        return Array(ranked.prefix(topN ?? ranked.count))
    }

    // MARK: - Internals (callers hold the lock)

    private func validate(query: String) throws {
        guard !query.allSatisfy(\.isWhitespace) else { throw ModelError.invalidInput("the query is empty") }
    }

    /// Iterative inference over one list given as rows of `features` (`rows[0]` the query).
    private func iterative(features: Tensor, rows listRows: [Int]) throws -> [Float] {
        let queryRow = listRows[0]
        let passageRows = Array(listRows.dropFirst())
        return try IterativeInference.scores(passageCount: passageRows.count) { positions in
            let rows = [queryRow] + positions.map { passageRows[$0] }
            var scores = try self.listScores(features: features, rows: [rows], raw: false)[0]
            // Identical texts have identical features; make their scores exactly equal so they
            // leave together, as the original's text-keyed bookkeeping has them do.
            var first = [Int: Float]()
            for (j, row) in rows.dropFirst().enumerated() {
                if let s = first[row] { scores[j] = s } else { first[row] = scores[j] }
            }
            return scores
        }
    }

    /// The list features of a query (encoded now) and stored passage vectors: `[distinct, width]`
    /// and each text's row (the query's first). Identical vectors share a row, as identical texts do.
    private func features(query: String, passageVectors: [[Float]]) throws -> (Tensor, [Int]) {
        try validate(query: query)
        let h = model.encoder.configuration.hiddenSize
        for (i, vector) in passageVectors.enumerated() {
            guard vector.count == h else {
                throw ModelError.invalidInput("passage vector \(i) has \(vector.count) values; this encoder's have \(h)")
            }
            guard vector.allSatisfy(\.isFinite) else {
                throw ModelError.invalidInput("passage vector \(i) holds a value that is not finite")
            }
        }
        var pooled = try batched.pooled([query], statistics: &statistics).scalars
        var rowOfVector = [[Float]: Int]()
        var rows = [0]
        for vector in passageVectors {
            if let row = rowOfVector[vector] { rows.append(row); continue }
            let row = pooled.count / h
            rowOfVector[vector] = row
            pooled += vector
            rows.append(row)
        }
        let features = try model.project(pooled: Tensor(shape: [pooled.count / h, h], scalars: pooled))
        return (features, rows)
    }

    private func conventional(_ lists: [[String]], raw: Bool) throws -> [[Float]] {
        for list in lists {
            guard let query = list.first else { throw ModelError.invalidInput("a list needs a query") }
            try validate(query: query)
        }
        let scored = lists.filter { $0.count >= 2 }
        var results = [[Float]](repeating: [], count: lists.count)
        guard !scored.isEmpty else { return results }
        let (features, rowOfText) = try encode(scored.flatMap { $0 })
        var rows = [[Int]]()
        var offset = 0
        for list in scored {
            rows.append(Array(rowOfText[offset..<offset + list.count]))
            offset += list.count
        }
        var next = try listScores(features: features, rows: rows, raw: raw).makeIterator()
        for i in lists.indices where lists[i].count >= 2 {
            results[i] = next.next() ?? []
        }
        return results
    }

    /// Encodes each distinct text once: returns the features `[distinct, width]` and, for each
    /// input text, its row.
    private func encode(_ texts: [String]) throws -> (Tensor, [Int]) {
        var rowOfDistinct = [String: Int]()
        var distinct = [String]()
        let rowOfText = texts.map { text -> Int in
            if let row = rowOfDistinct[text] { return row }
            rowOfDistinct[text] = distinct.count
            distinct.append(text)
            return distinct.count - 1
        }
        let features = try model.project(pooled: batched.pooled(distinct, statistics: &statistics))
        return (features, rowOfText)
    }

    /// Runs the list head on lists given as rows of `features`: sigmoid scores (or logits).
    private func listScores(features: Tensor, rows: [[Int]], raw: Bool) throws -> [[Float]] {
        let width = model.listTransformer.width
        let all = features.scalars
        var gathered = [Float]()
        gathered.reserveCapacity(rows.reduce(0) { $0 + $1.count } * width)
        for list in rows {
            for row in list { gathered += all[row * width..<(row + 1) * width] }
        }
        let lengths = rows.map(\.count)
        var logits = try model.logits(features: Tensor(shape: [lengths.reduce(0, +), width], scalars: gathered),
                                      listLengths: lengths)
        if !raw { logits = Kernels.sigmoid(Tensor(shape: [logits.count], scalars: logits)).scalars }
        var out = [[Float]]()
        var offset = 0
        for length in lengths {
            out.append(Array(logits[offset..<offset + length - 1]))
            offset += length - 1
        }
        return out
    }
}
