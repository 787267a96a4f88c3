import Foundation

/// The one reader of `config.json`: inference, training and the tools all decode and check it
/// here, so a configuration the encoder cannot run is refused the same way, with the same
/// message, wherever it is read.
extension BertConfiguration {
    /// Reads, decodes and checks the `config.json` at `url`. Throws ``ModelError/missingFile(_:)``
    /// when it cannot be read, ``ModelError/invalidConfiguration(_:_:)`` naming the file and the
    /// rule otherwise.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelError.missingFile(url.path)
        }
        do {
            self = try JSONDecoder().decode(BertConfiguration.self, from: data)
        } catch {
            throw ModelError.invalidConfiguration(url.path, "not a BERT config.json (\(error))")
        }
        try validate(file: url.path)
    }
}

extension ModelDirectory {
    /// The directory's `config.json`, read by ``BertConfiguration/init(contentsOf:)``.
    public func configuration() throws -> BertConfiguration {
        try BertConfiguration(contentsOf: url(of: .config))
    }
}
