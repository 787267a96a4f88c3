import Foundation

extension BertTokenizer {
    /// Loads the tokenizer of a Hugging Face model directory the way transformers 5 does.
    ///
    /// - The vocabulary comes from `tokenizer.json` (a WordPiece model) when the directory has
    ///   one, else from `vocab.txt`.
    /// - When the tokenizer class is BERT's (`tokenizer_class` `BertTokenizer`/`BertTokenizerFast`
    ///   in `tokenizer_config.json`, or no class and `model_type` `bert` in `config.json`), or there
    ///   is no `tokenizer.json`, normalization follows `tokenizer_config.json` (`do_lower_case`,
    ///   default true; `strip_accents`; `tokenize_chinese_chars`), even where `tokenizer.json`'s
    ///   normalizer says otherwise: transformers 5 rebuilds the normalizer from those settings.
    ///   Otherwise `tokenizer.json`'s `BertNormalizer` and WordPiece settings are used as written.
    /// - Special tokens come from `tokenizer_config.json`, then `special_tokens_map.json`, then
    ///   BERT's defaults; `tokenizer.json`'s `added_tokens` and `tokenizer_config.json`'s
    ///   `added_tokens_decoder` are matched in text before normalization.
    ///
    /// - Throws: ``TokenizerError`` naming the file and the problem.
    public init(directory: URL) throws {
        let files = ModelDirectoryFiles(directory: directory)
        let tokenizerConfig = try files.jsonObject("tokenizer_config.json") ?? [:]
        let specialTokensMap = try files.jsonObject("special_tokens_map.json") ?? [:]
        let modelConfig = try files.jsonObject("config.json") ?? [:]
        let tokenizerJSON = try files.jsonObject("tokenizer.json")

        let tokenizerClass = tokenizerConfig["tokenizer_class"] as? String
        let isBertClass = tokenizerClass.map { ["BertTokenizer", "BertTokenizerFast"].contains($0) }
            ?? (modelConfig["model_type"] as? String == "bert")

        var configuration = BertTokenizerConfiguration()
        func specialToken(_ key: String, _ fallback: String) -> String {
            BertTokenizer.tokenContent(tokenizerConfig[key]) ?? BertTokenizer.tokenContent(specialTokensMap[key]) ?? fallback
        }
        configuration.unknownToken = specialToken("unk_token", "[UNK]")
        configuration.classifierToken = specialToken("cls_token", "[CLS]")
        configuration.separatorToken = specialToken("sep_token", "[SEP]")
        configuration.paddingToken = specialToken("pad_token", "[PAD]")
        configuration.maskToken = specialToken("mask_token", "[MASK]")

        let vocabulary: [String: Int32]
        if let tokenizerJSON {
            let path = files.path("tokenizer.json")
            vocabulary = try BertTokenizer.wordPieceVocabulary(tokenizerJSON, path: path)
            configuration.addedTokens = try BertTokenizer.addedTokens(tokenizerJSON["added_tokens"], path: path)
            if !isBertClass {
                try BertTokenizer.applyTokenizerJSONSettings(tokenizerJSON, path: path, to: &configuration)
            }
        } else if let vocabularyText = try files.data("vocab.txt") {
            vocabulary = try BertTokenizer.parseVocabularyText(vocabularyText, path: files.path("vocab.txt"))
        } else {
            throw TokenizerError.missingVocabulary(directory: directory.path)
        }
        if tokenizerJSON == nil || isBertClass {
            let path = files.path("tokenizer_config.json")
            configuration.lowercase = try BertTokenizer.optional(tokenizerConfig, "do_lower_case", path) ?? true
            configuration.stripAccents = try BertTokenizer.optional(tokenizerConfig, "strip_accents", path)
            configuration.isolateChineseCharacters =
                try BertTokenizer.optional(tokenizerConfig, "tokenize_chinese_chars", path) ?? true
        }
        if let decoder = tokenizerConfig["added_tokens_decoder"] as? [String: Any] {
            for (key, value) in decoder {
                guard let id = Int32(key), let content = BertTokenizer.tokenContent(value) else {
                    throw TokenizerError.malformedFile(
                        path: files.path("tokenizer_config.json"),
                        problem: "added_tokens_decoder entry \"\(key)\" needs an integer key and a content string")
                }
                configuration.addedTokens[content] = id
            }
        }
        try self.init(vocabulary: vocabulary, configuration: configuration)
    }

    /// Parses `vocab.txt` as the Rust `tokenizers` reads it: one token per `\n`-separated line,
    /// trailing whitespace trimmed, the line number (from 0) as id; a repeated token keeps its last id.
    static func parseVocabularyText(_ data: Data, path: String) throws -> [String: Int32] {
        var vocabulary: [String: Int32] = [:]
        let bytes = [UInt8](data)
        var lineStart = 0
        var lineNumber = 0
        while lineStart < bytes.count {
            let lineEnd = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            guard let line = String(validating: bytes[lineStart..<lineEnd], as: UTF8.self) else {
                throw TokenizerError.invalidUTF8(path: path, line: lineNumber + 1)
            }
            var scalars = line.unicodeScalars[...]
            while let last = scalars.last,
                  BertCharacterClasses.rangesContain(BertUnicodeTables.splitWhitespaceRanges, last.value) {
                scalars = scalars.dropLast()
            }
            vocabulary[String(String.UnicodeScalarView(scalars))] = Int32(lineNumber)
            lineNumber += 1
            lineStart = lineEnd + 1
        }
        return vocabulary
    }

    private static func wordPieceVocabulary(_ json: [String: Any], path: String) throws -> [String: Int32] {
        guard let model = json["model"] as? [String: Any] else {
            throw TokenizerError.malformedFile(path: path, problem: "has no \"model\" object")
        }
        if let type = model["type"] as? String, type != "WordPiece" {
            throw TokenizerError.malformedFile(path: path, problem: "model type \"\(type)\" is not WordPiece")
        }
        guard let entries = model["vocab"] as? [String: Any] else {
            throw TokenizerError.malformedFile(path: path, problem: "model.vocab is not an object of token ids")
        }
        var vocabulary: [String: Int32] = [:]
        vocabulary.reserveCapacity(entries.count)
        for (token, value) in entries {
            guard let id = (value as? NSNumber).flatMap({ Int32(exactly: $0.int64Value) }) else {
                throw TokenizerError.malformedFile(path: path, problem: "model.vocab[\"\(token)\"] is not an integer id")
            }
            vocabulary[token] = id
        }
        return vocabulary
    }

    private static func addedTokens(_ value: Any?, path: String) throws -> [String: Int32] {
        guard let value else { return [:] }
        guard let list = value as? [[String: Any]] else {
            throw TokenizerError.malformedFile(path: path, problem: "added_tokens is not a list of objects")
        }
        var tokens: [String: Int32] = [:]
        for entry in list {
            guard let content = entry["content"] as? String,
                  let id = (entry["id"] as? NSNumber).flatMap({ Int32(exactly: $0.int64Value) }) else {
                throw TokenizerError.malformedFile(path: path, problem: "an added_tokens entry lacks content or id")
            }
            tokens[content] = id
        }
        return tokens
    }

    /// The normalizer and WordPiece settings written in `tokenizer.json`, for directories that
    /// transformers loads as a plain `tokenizers` backend.
    private static func applyTokenizerJSONSettings(
        _ json: [String: Any], path: String, to configuration: inout BertTokenizerConfiguration
    ) throws {
        guard let normalizer = json["normalizer"] as? [String: Any], normalizer["type"] as? String == "BertNormalizer" else {
            throw TokenizerError.malformedFile(path: path, problem: "normalizer is not a BertNormalizer")
        }
        guard let preTokenizer = json["pre_tokenizer"] as? [String: Any],
              preTokenizer["type"] as? String == "BertPreTokenizer" else {
            throw TokenizerError.malformedFile(path: path, problem: "pre_tokenizer is not a BertPreTokenizer")
        }
        configuration.cleanText = try optional(normalizer, "clean_text", path) ?? true
        configuration.isolateChineseCharacters = try optional(normalizer, "handle_chinese_chars", path) ?? true
        configuration.stripAccents = try optional(normalizer, "strip_accents", path)
        configuration.lowercase = try optional(normalizer, "lowercase", path) ?? true
        if let model = json["model"] as? [String: Any] {
            if let unknown = model["unk_token"] as? String { configuration.unknownToken = unknown }
            if let prefix = model["continuing_subword_prefix"] as? String { configuration.continuingSubwordPrefix = prefix }
            if let limit: Int = try optional(model, "max_input_chars_per_word", path) {
                configuration.maxInputCharactersPerWord = limit
            }
        }
    }

    /// `object[key]` as a `T`; nil when absent or JSON null; an error when of another type.
    private static func optional<T>(_ object: [String: Any], _ key: String, _ path: String) throws -> T? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        if T.self == Bool.self, let flag = value as? Bool { return flag as? T }
        if T.self == Int.self, let number = value as? NSNumber, !(value is Bool) { return number.intValue as? T }
        throw TokenizerError.malformedFile(path: path, problem: "\"\(key)\" should be a \(T.self), not \(value)")
    }

    /// A special token written as a string or as an `AddedToken` object with a `content` string.
    private static func tokenContent(_ value: Any?) -> String? {
        if let string = value as? String { return string }
        if let object = value as? [String: Any] { return object["content"] as? String }
        return nil
    }
}

/// Reads the optional files of a model directory, with errors that name them.
private struct ModelDirectoryFiles {
    let directory: URL

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// The file's bytes, or nil when it does not exist.
    func data(_ name: String) throws -> Data? {
        let path = path(name)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TokenizerError.unreadableFile(path: path, reason: error.localizedDescription)
        }
    }

    /// The file parsed as a JSON object, or nil when it does not exist.
    func jsonObject(_ name: String) throws -> [String: Any]? {
        guard let data = try data(name) else { return nil }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw TokenizerError.malformedFile(path: path(name), problem: "is not valid JSON (\(error.localizedDescription))")
        }
        guard let object = parsed as? [String: Any] else {
            throw TokenizerError.malformedFile(path: path(name), problem: "is not a JSON object")
        }
        return object
    }
}
