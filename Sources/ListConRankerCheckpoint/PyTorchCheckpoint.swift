import Foundation
import ListConRankerTensor

/// A PyTorch checkpoint written by `torch.save` (≥ 1.6): a zip archive holding
/// `<top>/data.pkl`, the pickled state dict, and `<top>/data/<key>`, the raw little-endian
/// storages its tensors view.
///
/// The pickle is read by a restricted unpickler (nothing is executed). Tensors that are views
/// (a storage offset, shared storages, non-contiguous strides such as a transpose) are
/// materialised row-major on request. Nested dicts are flattened with `.`-joined keys;
/// non-tensor values (numbers, strings) are skipped.
public final class PyTorchCheckpoint: TensorStore {
    /// The file.
    public let url: URL
    /// The container format.
    public var format: CheckpointFormat { .pytorchZip }
    /// The archive's top folder (`archive`, or the file's stem when torch named it).
    public let archiveFolder: String
    private let mapping: MappedFile
    private let index: StoredTensorIndex

    /// Opens the checkpoint at `url`, reads its pickle and validates every tensor's view.
    public convenience init(url: URL) throws {
        try self.init(mapping: MappedFile(url: url))
    }

    init(mapping: MappedFile) throws {
        let url = mapping.url
        self.url = url
        self.mapping = mapping
        func fail(_ problem: String) -> CheckpointError { CheckpointError(file: url, problem) }

        let archive = try ZipArchive(mapping: mapping)
        let pickles = archive.entries.keys.filter { name in
            let parts = name.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 2 && parts[1] == "data.pkl" && !parts[0].isEmpty
        }.sorted()
        guard let pickleName = pickles.first, let pickleEntry = archive.entries[pickleName] else {
            throw fail("no <folder>/data.pkl in the zip archive: not a torch.save checkpoint")
        }
        guard pickles.count == 1 else {
            throw fail("several data.pkl in the zip archive (\(pickles.joined(separator: ", ")))")
        }
        archiveFolder = String(pickleName.dropLast("/data.pkl".count))
        let pickleBytes = try archive.storedBytes(of: pickleEntry, in: mapping)
        var unpickler = StateDictUnpickler(bytes: pickleBytes, url: url, member: pickleName)
        let root = try unpickler.load()

        var pickled: [(name: String, tensor: PickledTensor)] = []
        try Self.collectTensors(root, prefix: "", into: &pickled, url: url)

        var tensors: [StoredTensor] = []
        var others: [OtherTensorDescriptor] = []
        var storageTypes: [String: String] = [:]
        for (name, tensor) in pickled {
            let storage = tensor.storage
            if let earlier = storageTypes[storage.key], earlier != storage.typeName {
                throw fail("tensor \"\(name)\": storage \(storage.key) is used as both torch.\(earlier) "
                    + "and torch.\(storage.typeName)")
            }
            storageTypes[storage.key] = storage.typeName
            let dtype = AllowedGlobal.floatStorages[storage.typeName]
            let elementSize = dtype?.byteSize ?? AllowedGlobal.otherStorages[storage.typeName]?.size ?? 1
            let memberName = "\(archiveFolder)/data/\(storage.key)"
            guard let entry = archive.entries[memberName] else {
                throw fail("tensor \"\(name)\": storage member \(memberName) is missing from the archive")
            }
            let entryBytes = try archive.storedBytes(of: entry, in: mapping)
            guard let storageBytes = Checked.multiply(storage.count, elementSize), storageBytes <= entryBytes.count else {
                throw fail("tensor \"\(name)\": storage \(memberName) holds \(entry.size) bytes, too few for "
                    + "\(storage.count) elements of torch.\(storage.typeName)")
            }
            if let problem = StoredTensor.viewProblem(shape: tensor.size, strides: tensor.stride,
                                                       storageOffset: tensor.storageOffset,
                                                       storageElements: storage.count) {
                throw fail("tensor \"\(name)\": \(problem)")
            }
            guard let dtype else {
                let typeName = AllowedGlobal.otherStorages[storage.typeName]?.typeName ?? storage.typeName
                others.append(OtherTensorDescriptor(name: name, typeName: typeName,
                                                    shape: tensor.size))
                continue
            }
            tensors.append(StoredTensor(
                descriptor: TensorDescriptor(name: name, dtype: dtype, shape: tensor.size),
                storage: UnsafeRawBufferPointer(rebasing: entryBytes[0..<storageBytes]), storageOffset: tensor.storageOffset, strides: tensor.stride))
        }
        index = StoredTensorIndex(url: url, tensors: tensors, otherTensors: others, mapping: mapping)
    }

    /// Every F32, F16 and BF16 tensor, sorted by name.
    public var descriptors: [TensorDescriptor] { index.descriptors }
    /// Tensors of other element types (listed, not readable), sorted by name.
    public var otherTensors: [OtherTensorDescriptor] { index.sortedOtherTensors }
    /// The descriptor of the floating-point tensor `name`, or nil.
    public func descriptor(named name: String) -> TensorDescriptor? { index.tensors[name]?.descriptor }
    /// The tensor `name` as Float32 (views materialised row-major).
    public func tensor(named name: String) throws -> Tensor { try index.float32Tensor(named: name) }
    /// The tensor `name` with BFloat16 storage (BF16 data copied as is).
    public func bfloat16Tensor(named name: String) throws -> Tensor { try index.bfloat16Tensor(named: name) }

    /// Walks the unpickled value: a (possibly nested) dict of tensors.
    private static func collectTensors(_ value: PickleValue, prefix: String,
                                       into result: inout [(name: String, tensor: PickledTensor)],
                                       url: URL) throws {
        switch value {
        case .tensor(let tensor):
            result.append((prefix, tensor))
        case .dict(let dict):
            for (key, item) in zip(dict.keys, dict.values) {
                let name: String
                switch key {
                case .string(let string): name = string
                case .int(let number): name = String(number)
                default:
                    throw CheckpointError(file: url, "state dict key of type \(key.kind) (expected str)")
                }
                // Depth is bounded by the unpickler (StateDictUnpickler.maximumDepth).
                try collectTensors(item, prefix: prefix.isEmpty ? name : "\(prefix).\(name)", into: &result, url: url)
            }
        default:
            if prefix.isEmpty {
                throw CheckpointError(file: url, "the pickle holds a \(value.kind), not a state dict")
            }
        }
    }
}
