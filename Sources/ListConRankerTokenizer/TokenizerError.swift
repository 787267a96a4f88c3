/// Why a tokenizer could not be loaded or its input could not be read.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The model directory has neither `tokenizer.json` nor `vocab.txt`.
    case missingVocabulary(directory: String)
    /// A file could not be read.
    case unreadableFile(path: String, reason: String)
    /// A file is not what it should be (malformed JSON, a missing or mistyped key, an unsupported setting).
    case malformedFile(path: String, problem: String)
    /// A line of `vocab.txt` or of an input file is not valid UTF-8 (lines count from 1).
    case invalidUTF8(path: String, line: Int)
    /// A special token the encoder needs is not in the vocabulary.
    case missingSpecialToken(role: String, token: String)
    /// A token's id is negative or not below ``BertTokenizer/idLimit(entryCount:)``.
    case tokenIDOutOfRange(token: String, id: Int32, limit: Int)

    /// A one-line explanation naming the file, line or token concerned.
    public var description: String {
        switch self {
        case .missingVocabulary(let directory):
            return "\(directory): no tokenizer.json or vocab.txt, so there is no vocabulary to load"
        case .unreadableFile(let path, let reason):
            return "\(path): cannot be read (\(reason))"
        case .malformedFile(let path, let problem):
            return "\(path): \(problem)"
        case .invalidUTF8(let path, let line):
            return "\(path):\(line): not valid UTF-8"
        case .missingSpecialToken(let role, let token):
            return "the \(role) token \"\(token)\" is not in the vocabulary"
        case .tokenIDOutOfRange(let token, let id, let limit):
            return "the token \"\(token)\" has id \(id), outside 0..<\(limit) (ids must be non-negative "
                + "and below twice the number of tokens)"
        }
    }
}
