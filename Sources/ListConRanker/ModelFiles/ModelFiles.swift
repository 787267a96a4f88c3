import Foundation

/// Reads a model directory's files (../shared/DESIGN.md §2) into a model and a tokenizer. This is the
/// one place where file formats meet the model: the model itself sees only ``WeightSource``s.
struct ModelFiles {
    let directory: ModelDirectory

    /// Looks at `url`; throws if it is not a directory.
    init(directory url: URL) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ModelError.missingDirectory(url.path)
        }
        directory = try ModelDirectory(url: url)
    }

    /// Throws unless every file a ListConRanker needs is present, naming all that are missing.
    func requireListConRanker() throws {
        let missing = directory.missingForListConRanker
        guard missing.isEmpty else {
            throw ModelError.missingFile("\(directory.url.path): \(missing.joined(separator: ", "))")
        }
    }

    /// Throws unless the files of a BERT encoder are present.
    func requireEncoder() throws {
        let missing = directory.missingForEncoder
        guard missing.isEmpty else {
            throw ModelError.missingFile("\(directory.url.path): \(missing.joined(separator: ", "))")
        }
    }

    /// `config.json`, decoded and checked that the encoder can run it.
    func configuration() throws -> BertConfiguration {
        try directory.configuration()
    }

    func encoderWeights() throws -> NamedWeights {
        guard let url = directory.encoderWeightsURL else {
            throw ModelError.missingFile(directory.url.appendingPathComponent("model.safetensors").path)
        }
        return NamedWeights(try openCheckpoint(at: url))
    }

    func weights(_ file: ModelDirectory.File) throws -> NamedWeights {
        NamedWeights(try openCheckpoint(at: directory.url(of: file)))
    }

    func loadModel(options: RerankerOptions) throws -> ListConRankerModel {
        try requireListConRanker()
        return try ListConRankerModel(configuration: configuration(), encoderWeights: encoderWeights(),
                                      inputProjectionWeights: weights(.linearInEmbedding),
                                      listTransformerWeights: weights(.listTransformer),
                                      listLayers: options.listTransformerLayers, precision: options.precision,
                                      device: options.device)
    }

    func loadEncoder(precision: Precision, device: Device = .cpu) throws -> BertEncoder {
        try requireEncoder()
        return try BertEncoder(configuration: configuration(), weights: encoderWeights(), precision: precision,
                               device: device)
    }

    func loadTokenizer() throws -> BertTokenizer {
        try BertTokenizer(directory: directory.url)
    }
}

extension NamedWeights: WeightSource {
    /// The stored shape of `name`, or nil when the file has no such tensor.
    public func shape(of name: String) -> [Int]? {
        guard let stored = storedName(name) else { return nil }
        return store.descriptor(named: stored)?.shape
    }
}

extension BertTokenizer: TextTokenizing {
    func tokenIDs(_ text: String, maxLength: Int) -> [Int32] {
        encode(text, maxLength: maxLength).ids
    }
}
