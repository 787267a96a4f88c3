/// Errors from loading or running a model: each names the file or input at fault.
public enum ModelError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The model directory does not exist.
    case missingDirectory(String)
    /// A file the model needs is not there.
    case missingFile(String)
    /// `config.json` cannot be used.
    case invalidConfiguration(String, String)
    /// The weights do not fit each other (a width that disagrees between files, say).
    case inconsistentWeights(String)
    /// A text has more tokens than the position embedding covers.
    case sequenceTooLong(tokens: Int, maximum: Int)
    /// A token id outside the vocabulary.
    case tokenOutOfRange(id: Int32, vocabularySize: Int)
    /// Input the model cannot score (an empty list, say).
    case invalidInput(String)
    /// A weights file holds keys the model does not use (and that are not documented as unused):
    /// the file, then the keys. A checkpoint of another architecture is refused, not half-read.
    case unusedWeights(String, [String])

    public var description: String {
        switch self {
        case .missingDirectory(let path): return "model directory not found: \(path)"
        case .missingFile(let path): return "missing model file: \(path)"
        case .invalidConfiguration(let file, let why): return "\(file): \(why)"
        case .inconsistentWeights(let why): return "inconsistent weights: \(why)"
        case .sequenceTooLong(let tokens, let maximum):
            return "a text has \(tokens) tokens, more than the \(maximum) positions the encoder has"
        case .tokenOutOfRange(let id, let size): return "token id \(id) is outside the vocabulary of \(size)"
        case .invalidInput(let why): return why
        case .unusedWeights(let file, let keys):
            let shown = keys.prefix(5).map { "\"\($0)\"" }.joined(separator: ", ")
            return "\(file): \(keys.count) key\(keys.count == 1 ? "" : "s") the model does not use: \(shown)"
                + (keys.count > 5 ? ", …" : "")
        }
    }
}
