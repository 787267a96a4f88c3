import Foundation
import ListConRankerTensor

/// A Hugging Face safetensors file, memory-mapped.
///
/// Layout: an 8-byte little-endian header length N, N bytes of JSON mapping each tensor
/// name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the data
/// area after the header) plus an optional `__metadata__` string map, then the data.
/// Opening parses and validates the header; no tensor data is read until asked for.
public final class SafetensorsFile: TensorStore {
    /// The largest header accepted (the reference implementation's limit).
    static let maximumHeaderLength = 100_000_000

    /// Element types that safetensors defines and this reader lists but does not convert,
    /// with their sizes in bytes.
    static let otherElementSizes: [String: Int] = [
        "F64": 8, "I64": 8, "U64": 8, "I32": 4, "U32": 4, "I16": 2, "U16": 2,
        "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1,
    ]

    /// The file.
    public let url: URL
    /// The container format.
    public var format: CheckpointFormat { .safetensors }
    /// The `__metadata__` string map (empty if absent).
    public let metadata: [String: String]
    private let mapping: MappedFile
    private let index: StoredTensorIndex

    /// Opens and validates the safetensors file at `url`.
    public convenience init(url: URL) throws {
        try self.init(mapping: MappedFile(url: url))
    }

    init(mapping: MappedFile) throws {
        let url = mapping.url
        self.url = url
        self.mapping = mapping
        let bytes = mapping.bytes
        func fail(_ problem: String) -> CheckpointError { CheckpointError(file: url, problem) }

        guard let declared = bytes.littleEndian(UInt64.self, at: 0) else {
            throw fail("truncated: \(bytes.count) bytes, too short for the 8-byte safetensors header length")
        }
        guard declared >= 2, declared <= UInt64(Self.maximumHeaderLength) else {
            throw fail("implausible safetensors header length \(declared) (must be 2…\(Self.maximumHeaderLength))")
        }
        let headerLength = Int(declared)
        guard let header = mapping.slice(offset: 8, length: headerLength) else {
            throw fail("truncated: header length \(headerLength) runs past the end of the \(bytes.count)-byte file")
        }
        let dataStart = 8 + headerLength
        let dataLength = bytes.count - dataStart

        let entries: [String: SafetensorsHeaderEntry]
        do {
            let decoded = try JSONDecoder().decode(SafetensorsHeader.self, from: Data(header))
            entries = decoded.entries
            metadata = decoded.metadata
        } catch let error as SafetensorsHeader.EntryError {
            throw fail("bad safetensors header: entry \"\(error.key)\": "
                + ((error.underlying as? DecodingError).map(Self.describe) ?? "\(error.underlying)"))
        } catch let error as DecodingError {
            throw fail("bad safetensors header: \(Self.describe(error))")
        } catch {
            throw fail("bad safetensors header: \(error)")
        }

        var tensors: [StoredTensor] = []
        var others: [OtherTensorDescriptor] = []
        var ranges: [(begin: Int, end: Int, name: String)] = []
        for (name, entry) in entries {
            let elementSize: Int
            let dtype = DType(rawValue: entry.dtype)
            if let dtype {
                elementSize = dtype.byteSize
            } else if let size = Self.otherElementSizes[entry.dtype] {
                elementSize = size
            } else {
                throw fail("tensor \"\(name)\" has unknown dtype \"\(entry.dtype)\"")
            }
            guard let count = Checked.elementCount(entry.shape) else {
                throw fail("tensor \"\(name)\" has an invalid shape \(entry.shape) (negative or overflowing)")
            }
            guard entry.dataOffsets.count == 2 else {
                throw fail("tensor \"\(name)\" has \(entry.dataOffsets.count) data_offsets, expected 2")
            }
            let begin = entry.dataOffsets[0], end = entry.dataOffsets[1]
            guard begin >= 0, begin <= end else {
                throw fail("tensor \"\(name)\" has invalid data_offsets [\(begin), \(end)]")
            }
            guard end <= dataLength else {
                throw fail("tensor \"\(name)\" data_offsets [\(begin), \(end)] run past the end of the "
                    + "data area (\(dataLength) bytes; the file may be truncated)")
            }
            guard let byteCount = Checked.multiply(count, elementSize), byteCount == end - begin else {
                throw fail("tensor \"\(name)\" shape \(entry.shape) × \(entry.dtype) needs "
                    + "\(Checked.multiply(count, elementSize).map(String.init) ?? "too many") bytes, "
                    + "but data_offsets [\(begin), \(end)] hold \(end - begin)")
            }
            if end > begin { ranges.append((begin, end, name)) }
            if let dtype {
                guard let storage = mapping.slice(offset: dataStart + begin, length: byteCount) else {
                    throw fail("tensor \"\(name)\" lies outside the file")
                }
                tensors.append(StoredTensor(
                    descriptor: TensorDescriptor(name: name, dtype: dtype, shape: entry.shape),
                    storage: storage, storageOffset: 0,
                    strides: StoredTensor.contiguousStrides(entry.shape)))
            } else {
                others.append(OtherTensorDescriptor(name: name, typeName: entry.dtype, shape: entry.shape))
            }
        }
        ranges.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (previous, next) in zip(ranges, ranges.dropFirst()) where next.begin < previous.end {
            throw fail("tensors \"\(previous.name)\" [\(previous.begin), \(previous.end)) and "
                + "\"\(next.name)\" [\(next.begin), \(next.end)) overlap")
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

    /// A one-line account of a JSON decoding error: where in the header, and what.
    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? "\"\($0.stringValue)\"" }
            return keys.isEmpty ? "" : "at \(keys.joined(separator: ".")): "
        }
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context),
             .keyNotFound(_, let context), .dataCorrupted(let context):
            let underlying = (context.underlyingError as NSError?).map { " (\($0.localizedDescription))" } ?? ""
            return path(context) + context.debugDescription
                + (context.debugDescription.contains("not valid JSON") ? " (a number that is not an integer?)" : "")
                + underlying
        @unknown default:
            return "\(error)"
        }
    }
}

/// One tensor's entry in a safetensors header.
struct SafetensorsHeaderEntry: Decodable {
    let dtype: String
    let shape: [Int]
    let dataOffsets: [Int]

    enum CodingKeys: String, CodingKey {
        case dtype, shape
        case dataOffsets = "data_offsets"
    }
}

/// A safetensors header: tensor entries by name, and the optional `__metadata__` map.
struct SafetensorsHeader: Decodable {
    let entries: [String: SafetensorsHeaderEntry]
    let metadata: [String: String]

    /// A header entry that does not decode (e.g. a non-integer offset), with its key.
    struct EntryError: Error {
        let key: String
        let underlying: Error
    }

    private struct Key: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        var entries: [String: SafetensorsHeaderEntry] = [:]
        var metadata: [String: String] = [:]
        for key in container.allKeys {
            do {
                if key.stringValue == "__metadata__" {
                    metadata = try container.decode([String: String].self, forKey: key)
                } else {
                    entries[key.stringValue] = try container.decode(SafetensorsHeaderEntry.self, forKey: key)
                }
            } catch {
                throw EntryError(key: key.stringValue, underlying: error)
            }
        }
        self.entries = entries
        self.metadata = metadata
    }
}
