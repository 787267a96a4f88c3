import Foundation
import ListConRankerCUDA

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

    /// The name of the GPU the model runs on (such as `NVIDIA H100 80GB HBM3`); nil on the CPU.
    public var deviceName: String? {
        guard case .cuda(let index) = options.device else { return nil }
        return try? CUDADevice.shared(index: index).name
    }

    /// Why the GPU this reranker runs on can no longer run it, or nil (always nil on the CPU): an
    /// error after which the driver fails every call until the process exits, such as a kernel
    /// that faulted. A service answers 503 on `/health` from then on, so that it gets restarted.
    public var deviceFailure: String? {
        guard case .cuda(let index) = options.device else { return nil }
        return (try? CUDADevice.shared(index: index))?.failure
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
        let batch = try lists.map { list -> ScoringList in
            guard let query = list.first else { throw ModelError.invalidInput("a list needs a query") }
            return ScoringList(query: query, texts: Array(list.dropFirst()))
        }
        return try scores(batch: batch).scores
    }

    /// Probabilities for one query's passages, in passage order (conventional scoring).
    public func scores(query: String, passages: [String]) throws -> [Float] {
        try scores(batch: [ScoringList(query: query, texts: passages)]).scores[0]
    }

    /// Logits (before the sigmoid) for one query's passages, in passage order.
    public func logits(query: String, passages: [String]) throws -> [Float] {
        try scores(batch: [ScoringList(query: query, texts: passages, raw: true)]).scores[0]
    }

    // MARK: - Iterative inference

    /// Iterative inference for one list (../shared/DESIGN.md §1.2): scores in passage order, meaningful
    /// only as an order. Lists of 20 passages or fewer get conventional probabilities.
    public func iterativeScores(query: String, passages: [String]) throws -> [Float] {
        try scores(batch: [ScoringList(query: query, texts: passages, iterative: true)]).scores[0]
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
        try scores(batch: [ScoringList(query: query, passageVectors: passageVectors)]).scores[0]
    }

    /// Logits (before the sigmoid) for passages given by their stored pooled vectors, as
    /// ``logits(query:passages:)`` gives them for the passages' texts.
    public func logits(query: String, passageVectors: [[Float]]) throws -> [Float] {
        try scores(batch: [ScoringList(query: query, passageVectors: passageVectors, raw: true)]).scores[0]
    }

    /// Iterative inference over passages given by their stored pooled vectors; scores as
    /// ``iterativeScores(query:passages:)`` gives them for the passages' texts.
    public func iterativeScores(query: String, passageVectors: [[Float]]) throws -> [Float] {
        try scores(batch: [ScoringList(query: query, passageVectors: passageVectors, iterative: true)]).scores[0]
    }

    // MARK: - Batches of lists

    /// Scores several lists at once: every distinct text of every list (queries and text
    /// passages) goes through the encoder once, in one packed pass, and the list head runs once
    /// over all the lists scored conventionally. What a service does with requests that arrive
    /// together: a list's scores are those it gets alone, within the precision's rounding.
    ///
    /// Every method that scores passages comes here; the others are batches of one list.
    /// - Throws: ``ModelError/invalidInput(_:)`` for an empty query or a passage vector of the
    ///   wrong length or with a value that is not finite (no list is scored then).
    public func scores(batch lists: [ScoringList]) throws -> ScoredBatch {
        try lock.withLock { try score(lists) }
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
            var scores = Self.probabilities(try self.logits(features: features, rows: [rows])[0])
            // Identical texts have identical features; make their scores exactly equal so they
            // leave together, as the original's text-keyed bookkeeping has them do.
            var first = [Int: Float]()
            for (j, row) in rows.dropFirst().enumerated() {
                if let s = first[row] { scores[j] = s } else { first[row] = scores[j] }
            }
            return scores
        }
    }

    /// ``scores(batch:)`` under the lock. Features have one row per distinct text (in order of
    /// first appearance) and then one per distinct stored vector; each list is its rows.
    private func score(_ lists: [ScoringList]) throws -> ScoredBatch {
        let h = model.encoder.configuration.hiddenSize
        var rowOfText = [String: Int]()
        var texts = [String]()
        func textRow(_ text: String) -> Int {
            if let row = rowOfText[text] { return row }
            rowOfText[text] = texts.count
            texts.append(text)
            return texts.count - 1
        }
        var vectorRowOf = [[Float]: Int]()
        var vectors = [[Float]]()
        // Rows of stored vectors are counted from the end of the texts, known once all are seen.
        var listRows = [[(isText: Bool, index: Int)]]()
        for list in lists {
            try validate(query: list.query)
            guard !list.passages.isEmpty else { listRows.append([]); continue }
            var rows = [(isText: true, index: textRow(list.query))]
            for (i, passage) in list.passages.enumerated() {
                switch passage {
                case .text(let text):
                    rows.append((true, textRow(text)))
                case .vector(let vector):
                    guard vector.count == h else {
                        throw ModelError.invalidInput("passage vector \(i) has \(vector.count) values; this encoder's have \(h)")
                    }
                    guard vector.allSatisfy(\.isFinite) else {
                        throw ModelError.invalidInput("passage vector \(i) holds a value that is not finite")
                    }
                    if let row = vectorRowOf[vector] { rows.append((false, row)); continue }
                    vectorRowOf[vector] = vectors.count
                    vectors.append(vector)
                    rows.append((false, vectors.count - 1))
                }
            }
            listRows.append(rows)
        }
        guard !texts.isEmpty else {
            return ScoredBatch(scores: lists.map { _ in [] }, encodedVectors: [:])
        }

        let encoded = try batched.pooled(texts, statistics: &statistics)
        var pooled = encoded.scalars
        for vector in vectors { pooled += vector }
        let features = try model.project(pooled: Tensor(shape: [pooled.count / h, h], scalars: pooled))
        let rows = listRows.map { list in list.map { $0.isText ? $0.index : texts.count + $0.index } }

        var scores = [[Float]](repeating: [], count: lists.count)
        func iterates(_ i: Int) -> Bool {
            lists[i].iterative && IterativeInference.applies(toPassageCount: lists[i].passages.count)
        }
        let conventional = lists.indices.filter { !rows[$0].isEmpty && !iterates($0) }
        if !conventional.isEmpty {
            let logits = try self.logits(features: features, rows: conventional.map { rows[$0] })
            for (i, listLogits) in zip(conventional, logits) {
                scores[i] = lists[i].raw ? listLogits : Self.probabilities(listLogits)
            }
        }
        for i in lists.indices where !rows[i].isEmpty && iterates(i) {
            scores[i] = try iterative(features: features, rows: rows[i])
        }
        var encodedVectors = [String: [Float]](minimumCapacity: texts.count)
        for (row, text) in texts.enumerated() {
            encodedVectors[text] = Array(encoded.scalars[row * h..<(row + 1) * h])
        }
        return ScoredBatch(scores: scores, encodedVectors: encodedVectors)
    }

    /// Runs the list head on lists given as rows of `features` (each `[query, passage, …]`): one
    /// logit per passage, per list.
    private func logits(features: Tensor, rows: [[Int]]) throws -> [[Float]] {
        let width = model.listTransformer.width
        let all = features.scalars
        var gathered = [Float]()
        gathered.reserveCapacity(rows.reduce(0) { $0 + $1.count } * width)
        for list in rows {
            for row in list { gathered += all[row * width..<(row + 1) * width] }
        }
        let lengths = rows.map(\.count)
        let logits = try model.logits(features: Tensor(shape: [lengths.reduce(0, +), width], scalars: gathered),
                                      listLengths: lengths)
        var out = [[Float]]()
        var offset = 0
        for length in lengths {
            out.append(Array(logits[offset..<offset + length - 1]))
            offset += length - 1
        }
        return out
    }

    /// The sigmoid of each logit.
    private static func probabilities(_ logits: [Float]) -> [Float] {
        Kernels.sigmoid(Tensor(shape: [logits.count], scalars: logits)).scalars
    }
}
