import Foundation

/// What a model directory holds of the files an official ListConRanker (or BERT encoder)
/// directory has (../shared/DESIGN.md §2), and so what kind of directory it is.
public struct ModelDirectory: Sendable, Equatable {
    /// The files an official directory may have.
    public enum File: String, CaseIterable, Sendable, Comparable {
        /// The BERT configuration.
        case config = "config.json"
        /// Encoder weights, safetensors (preferred when both are present).
        case safetensorsWeights = "model.safetensors"
        /// Encoder weights, a PyTorch zip checkpoint.
        case pytorchWeights = "pytorch_model.bin"
        /// ListConRanker's Linear 1024 → 1792.
        case linearInEmbedding = "linear_in_embedding.pt"
        /// ListConRanker's ListTransformer and score head.
        case listTransformer = "list_transformer.pt"
        /// WordPiece vocabulary.
        case vocabulary = "vocab.txt"
        /// A Hugging Face fast-tokenizer description.
        case tokenizerJSON = "tokenizer.json"
        /// Tokenizer settings (`do_lower_case`, …).
        case tokenizerConfig = "tokenizer_config.json"
        /// Special tokens.
        case specialTokensMap = "special_tokens_map.json"

        /// Encoder weights, in order of preference.
        public static let weights: [File] = [.safetensorsWeights, .pytorchWeights]
        /// Tokenizer files (a vocabulary, a fast-tokenizer description, settings).
        public static let tokenizer: [File] = [.vocabulary, .tokenizerJSON, .tokenizerConfig, .specialTokensMap]
        /// The ListConRanker head (absent from plain BERT directories).
        public static let listConRankerHead: [File] = [.linearInEmbedding, .listTransformer]

        /// Orders files as ``allCases`` lists them.
        public static func < (lhs: File, rhs: File) -> Bool {
            guard let left = allCases.firstIndex(of: lhs), let right = allCases.firstIndex(of: rhs) else { return false }
            return left < right
        }
    }

    /// What the directory is, judged by its files.
    public enum Kind: Sendable, Equatable, CustomStringConvertible {
        /// Everything a ListConRanker needs: config, encoder weights, both head files, a tokenizer.
        case listConRanker
        /// A ListConRanker directory missing the listed requirements (it has at least one head file).
        case incompleteListConRanker(missing: [String])
        /// A BERT encoder: config, encoder weights and a tokenizer, no ListConRanker head.
        case bertEncoder
        /// Neither; `missing` lists what a BERT encoder directory would need.
        case unrecognised(missing: [String])

        /// A one-line account for people.
        public var description: String {
            switch self {
            case .listConRanker: return "ListConRanker model directory"
            case .incompleteListConRanker(let missing):
                return "incomplete ListConRanker model directory (missing \(missing.joined(separator: ", ")))"
            case .bertEncoder: return "BERT encoder directory"
            case .unrecognised(let missing):
                return "unrecognised directory (missing \(missing.joined(separator: ", ")))"
            }
        }
    }

    /// The directory.
    public let url: URL
    /// The official files present (regular files, or links to them), in ``File/allCases`` order.
    public let present: [File]

    /// Looks at the directory `url`; throws if it does not exist or is not a directory.
    public init(url: URL) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw CheckpointError(file: url, "model directory does not exist")
        }
        guard isDirectory.boolValue else {
            throw CheckpointError(file: url, "not a directory")
        }
        self.url = url
        present = File.allCases.filter { file in
            var isFolder: ObjCBool = false
            let path = url.appendingPathComponent(file.rawValue).path
            return FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && !isFolder.boolValue
        }
    }

    /// Whether `file` is present.
    public func has(_ file: File) -> Bool { present.contains(file) }

    /// The official files absent, in ``File/allCases`` order.
    public var absent: [File] { File.allCases.filter { !has($0) } }

    /// The URL of `file` in this directory (whether or not it exists).
    public func url(of file: File) -> URL { url.appendingPathComponent(file.rawValue) }

    /// The encoder weights: `model.safetensors` if present, else `pytorch_model.bin`, else nil.
    public var encoderWeightsURL: URL? {
        if has(.safetensorsWeights) { return url(of: .safetensorsWeights) }
        if has(.pytorchWeights) { return url(of: .pytorchWeights) }
        return nil
    }

    /// The checkpoint files present (encoder weights and head files).
    public var checkpointFiles: [File] {
        present.filter { [.safetensorsWeights, .pytorchWeights, .linearInEmbedding, .listTransformer].contains($0) }
    }

    /// What a BERT encoder needs: one file of each group.
    public static let requiredForEncoder: [[File]] = [[.config], File.weights, [.vocabulary, .tokenizerJSON]]
    /// What a ListConRanker needs: one file of each group.
    public static let requiredForListConRanker: [[File]] = requiredForEncoder + File.listConRankerHead.map { [$0] }

    /// The groups of `required` of which `has` finds no file, each as `a or b`: the one rule
    /// for local directories and hub snapshots alike.
    public static func missing(_ required: [[File]], has: (File) -> Bool) -> [String] {
        required.filter { !$0.contains(where: has) }.map { $0.map(\.rawValue).joined(separator: " or ") }
    }

    /// What a BERT encoder directory needs and this one lacks.
    public var missingForEncoder: [String] { Self.missing(Self.requiredForEncoder, has: has) }

    /// What a ListConRanker directory needs and this one lacks.
    public var missingForListConRanker: [String] { Self.missing(Self.requiredForListConRanker, has: has) }

    /// The directory's kind, judged by which files are present.
    public var kind: Kind {
        let missing = missingForListConRanker
        if missing.isEmpty { return .listConRanker }
        if has(.linearInEmbedding) || has(.listTransformer) { return .incompleteListConRanker(missing: missing) }
        let encoderMissing = missingForEncoder
        return encoderMissing.isEmpty ? .bertEncoder : .unrecognised(missing: encoderMissing)
    }
}
