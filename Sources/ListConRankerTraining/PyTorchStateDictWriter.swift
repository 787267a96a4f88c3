import Foundation

/// Writes a Float32 state dict in `torch.save`'s zip format (DESIGN §2), which
/// `torch.load(weights_only=True)` and the project's own reader both accept: uncompressed
/// entries under one top folder — `data.pkl`, `.format_version`, `.storage_alignment`,
/// `byteorder`, one `data/<n>` storage per tensor (little-endian Float32) and `version` (3).
public enum PyTorchStateDictWriter {
    /// One tensor of a state dict.
    public struct Tensor: Sendable, Equatable {
        /// The key.
        public let name: String
        /// Extent of each dimension, outermost first (row-major).
        public let shape: [Int]
        /// The elements, row-major.
        public let values: [Float]

        /// A tensor; throws if the element count does not match the shape.
        public init(name: String, shape: [Int], values: [Float]) throws {
            guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == values.count else {
                throw TrainingError.invalidInput("tensor \"\(name)\": \(values.count) values for shape \(shape)")
            }
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    /// The archive's bytes. `folder` is the top folder (`torch.save` uses the file's stem);
    /// `modules` are the `_metadata` keys (the module paths, `""` for the root), each given
    /// `{'version': 1}` as PyTorch records them.
    public static func archive(_ tensors: [Tensor], modules: [String], folder: String) throws -> Data {
        guard Set(tensors.map(\.name)).count == tensors.count else {
            throw TrainingError.invalidInput("state dict has duplicate keys")
        }
        guard !folder.isEmpty, !folder.contains("/") else {
            throw TrainingError.invalidInput("archive folder \"\(folder)\" must be one non-empty path component")
        }
        let records = tensors.enumerated().map { index, tensor in
            StateDictPickler.TensorRecord(name: tensor.name, shape: tensor.shape, storageKey: String(index))
        }
        var zip = StoredZipWriter()
        try zip.add("\(folder)/data.pkl", StateDictPickler.pickle(tensors: records, modules: modules))
        try zip.add("\(folder)/.format_version", Data("1".utf8))
        try zip.add("\(folder)/.storage_alignment", Data("\(StoredZipWriter.alignment)".utf8))
        try zip.add("\(folder)/byteorder", Data("little".utf8))
        for (index, tensor) in tensors.enumerated() {
            var storage = Data(capacity: tensor.values.count * 4)
            storage.appendLittleEndian(tensor.values)
            try zip.add("\(folder)/data/\(index)", storage)
        }
        try zip.add("\(folder)/version", Data("3\n".utf8))
        return zip.finished()
    }

    /// Writes the archive to `url` atomically (a temporary file renamed into place), the top
    /// folder named after the file's stem as `torch.save` names it.
    public static func write(_ tensors: [Tensor], modules: [String], to url: URL) throws {
        let data = try archive(tensors, modules: modules, folder: url.deletingPathExtension().lastPathComponent)
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw TrainingError.writeFailed("\(url.path): \(error.localizedDescription)")
        }
    }
}
