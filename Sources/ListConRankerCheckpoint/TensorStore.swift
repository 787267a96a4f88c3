import Foundation
import ListConRankerTensor

/// Name, element type and shape of one floating-point tensor in a checkpoint.
public struct TensorDescriptor: Sendable, Equatable, Hashable {
    /// The key, exactly as stored (e.g. `encoder.layer.0.attention.self.query.weight`).
    public let name: String
    /// The element type stored in the file.
    public let dtype: DType
    /// Extent of each dimension, outermost first (empty for a scalar).
    public let shape: [Int]

    /// Makes a descriptor.
    public init(name: String, dtype: DType, shape: [Int]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }

    /// Number of elements (the product of the shape; validated against the file when opened).
    public var elementCount: Int { Checked.elementCount(shape) ?? 0 }
}

/// A tensor the file holds with an element type the readers list but do not convert
/// (an `I64` `position_ids` buffer, say): model code never needs one.
public struct OtherTensorDescriptor: Sendable, Equatable, Hashable {
    /// The key, exactly as stored.
    public let name: String
    /// The element type, as safetensors names it (`I64`, `U8`, `F64`, …).
    public let typeName: String
    /// Extent of each dimension, outermost first.
    public let shape: [Int]

    /// Makes a descriptor.
    public init(name: String, typeName: String, shape: [Int]) {
        self.name = name
        self.typeName = typeName
        self.shape = shape
    }
}

/// The container format a checkpoint file uses.
public enum CheckpointFormat: String, Sendable, Equatable {
    /// Hugging Face safetensors (memory-mapped).
    case safetensors
    /// A PyTorch ≥ 1.6 `torch.save` zip archive (`.pt` / `.bin`).
    case pytorchZip = "pytorch-zip"
}

/// A checkpoint file opened for reading: its named tensors with their types and shapes,
/// and their values on request.
///
/// Opening validates the whole index (every tensor lies inside the file), so reading a
/// listed tensor cannot run out of bounds. Tensor data stays in the file's memory map
/// until asked for.
public protocol TensorStore: AnyObject, Sendable {
    /// The file.
    var url: URL { get }
    /// The file's container format.
    var format: CheckpointFormat { get }
    /// Every floating-point (F32, F16, BF16) tensor, sorted by name.
    var descriptors: [TensorDescriptor] { get }
    /// Tensors of other element types (listed, not readable), sorted by name.
    var otherTensors: [OtherTensorDescriptor] { get }
    /// The descriptor of the floating-point tensor `name`, or nil if there is none.
    func descriptor(named name: String) -> TensorDescriptor?
    /// The tensor `name` as Float32 (F16 and BF16 are converted exactly).
    func tensor(named name: String) throws -> Tensor
    /// The tensor `name` with BFloat16 storage: BF16 data is copied as is, never through
    /// Float32; F32 and F16 data are rounded to nearest even.
    func bfloat16Tensor(named name: String) throws -> Tensor
}

extension TensorStore {
    /// Total number of elements over all floating-point tensors (the parameter count).
    public var parameterCount: Int {
        descriptors.reduce(0) { Checked.add($0, $1.elementCount) ?? Int.max }
    }
}

/// Opens a checkpoint, choosing the reader by the file's content rather than its name:
/// a zip archive (`PK\u{3}\u{4}`) is read as a PyTorch checkpoint, an 8-byte header length
/// followed by `{` as safetensors. A legacy (pre-1.6, non-zip) PyTorch file is refused
/// with a message saying how to convert it.
public func openCheckpoint(at url: URL) throws -> any TensorStore {
    try openCheckpoint(mapping: MappedFile(url: url))
}

/// Opens the checkpoint whose bytes `mapping` holds (see ``openCheckpoint(at:)``).
func openCheckpoint(mapping: MappedFile) throws -> any TensorStore {
    let url = mapping.url
    let bytes = mapping.bytes
    if bytes.count >= 4, bytes[0] == 0x50, bytes[1] == 0x4B, bytes[2] == 0x03 || bytes[2] == 0x05,
       bytes[3] == 0x04 || bytes[3] == 0x06 {
        return try PyTorchCheckpoint(mapping: mapping)
    }
    if bytes.count >= 9, bytes[8] == UInt8(ascii: "{") {
        return try SafetensorsFile(mapping: mapping)
    }
    if bytes.count >= 2, bytes[0] == 0x80, bytes[1] <= 5 {
        throw CheckpointError(file: url, """
            legacy (pre-1.6, non-zip) PyTorch checkpoint: not supported; re-save it with \
            torch.save in PyTorch ≥ 1.6 or convert it to safetensors
            """)
    }
    if bytes.count < 9 {
        throw CheckpointError(file: url, "file too short (\(bytes.count) bytes) to be a checkpoint")
    }
    throw CheckpointError(file: url, "not a checkpoint: neither a zip archive (PyTorch) nor safetensors")
}
