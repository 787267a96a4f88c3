/// The element types a checkpoint may store and the compute core understands.
public enum DType: String, Sendable, Equatable, CustomStringConvertible {
    case float32 = "F32"
    case float16 = "F16"
    case bfloat16 = "BF16"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .float32: return 4
        case .float16, .bfloat16: return 2
        }
    }

    public var description: String { rawValue }
}

/// Backing storage of a ``Tensor``: 32-bit floats, or bfloat16 bit patterns, 64-byte aligned.
private enum TensorStorage: Sendable {
    case float32(AlignedElements<Float>)
    case bfloat16(AlignedElements<UInt16>)
}

/// A dense, row-major tensor: a shape and its elements, stored as Float32 or BFloat16.
///
/// Compute kernels work on Float32 tensors; BFloat16 storage holds the weights and activations
/// that bf16 matrix products read directly (see ``Linear``). The elements start on a 64-byte
/// boundary, as the matrix products read them fastest. Copies share the elements until one
/// of them writes (copy on write).
public struct Tensor: Sendable {
    /// Extent of each dimension, outermost first.
    public let shape: [Int]
    /// The elements, row-major.
    private var storage: TensorStorage

    /// Number of elements the shape holds.
    public static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    private init(shape: [Int], storage: TensorStorage) {
        self.shape = shape
        self.storage = storage
    }

    /// A Float32 tensor. `scalars.count` must equal the product of `shape`.
    public init(shape: [Int], scalars: [Float]) {
        precondition(Tensor.elementCount(shape) == scalars.count,
                     "Tensor: \(scalars.count) scalars do not fill shape \(shape)")
        self.init(shape: shape, storage: .float32(AlignedElements(scalars)))
    }

    /// A BFloat16 tensor from raw bit patterns (the high 16 bits of a Float32).
    public init(shape: [Int], bfloat16Bits: [UInt16]) {
        precondition(Tensor.elementCount(shape) == bfloat16Bits.count,
                     "Tensor: \(bfloat16Bits.count) elements do not fill shape \(shape)")
        self.init(shape: shape, storage: .bfloat16(AlignedElements(bfloat16Bits)))
    }

    /// A Float32 tensor of zeros.
    public init(zeros shape: [Int]) {
        self.init(shape: shape, storage: .float32(AlignedElements(repeating: 0, count: Tensor.elementCount(shape))))
    }

    /// A Float32 tensor whose elements `initializer` writes (all of them) without a zero fill first.
    package init(uninitializedShape shape: [Int], initializer: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        let elements = AlignedElements<Float>(uninitializedCount: Tensor.elementCount(shape))
        try initializer(UnsafeMutableBufferPointer(start: elements.base, count: elements.count))
        self.init(shape: shape, storage: .float32(elements))
    }

    /// A BFloat16 tensor whose bit patterns `initializer` writes (all of them).
    package init(uninitializedBFloat16Shape shape: [Int],
         initializer: (UnsafeMutableBufferPointer<UInt16>) throws -> Void) rethrows {
        let elements = AlignedElements<UInt16>(uninitializedCount: Tensor.elementCount(shape))
        try initializer(UnsafeMutableBufferPointer(start: elements.base, count: elements.count))
        self.init(shape: shape, storage: .bfloat16(elements))
    }

    /// The storage's element type.
    public var dtype: DType {
        switch storage {
        case .float32: return .float32
        case .bfloat16: return .bfloat16
        }
    }

    /// Number of elements.
    public var count: Int { Tensor.elementCount(shape) }

    /// The elements as Float32 (converted from BFloat16 where needed); a copy.
    public var scalars: [Float] {
        switch storage {
        case .float32(let values): return values.array
        case .bfloat16(let bits): return bits.buffer.map(BFloat16.float)
        }
    }

    /// This tensor with Float32 storage.
    public func toFloat32() -> Tensor {
        guard case .bfloat16(let bits) = storage else { return self }
        return Tensor(uninitializedShape: shape) { out in
            for i in 0..<bits.count { out[i] = BFloat16.float(bits.base[i]) }
        }
    }

    /// This tensor with BFloat16 storage (round to nearest even).
    public func toBFloat16() -> Tensor {
        guard case .float32(let values) = storage else { return self }
        return Tensor(uninitializedBFloat16Shape: shape) { out in
            for i in 0..<values.count { out[i] = BFloat16.bits(values.base[i]) }
        }
    }

    /// The same elements under another shape with the same element count (shared, not copied).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(Tensor.elementCount(newShape) == count, "reshape \(shape) → \(newShape)")
        return Tensor(shape: newShape, storage: storage)
    }

    /// Read access to Float32 elements. The tensor must have Float32 storage.
    public func withFloats<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        guard case .float32(let values) = storage else {
            preconditionFailure("withFloats on a \(dtype) tensor")
        }
        return try withExtendedLifetime(values) { try body(values.buffer) }
    }

    /// Write access to Float32 elements. The tensor must have Float32 storage. Elements shared
    /// with another tensor are copied first.
    public mutating func withMutableFloats<R>(_ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        guard case .float32(var values) = storage else {
            preconditionFailure("withMutableFloats on a \(dtype) tensor")
        }
        storage = .float32(Tensor.noFloats) // drop this tensor's own reference before the uniqueness check
        if !isKnownUniquelyReferenced(&values) { values = values.copy() }
        defer { storage = .float32(values) }
        var buffer = UnsafeMutableBufferPointer(start: values.base, count: values.count)
        return try body(&buffer)
    }

    /// Read access to BFloat16 bit patterns. The tensor must have BFloat16 storage.
    public func withBFloat16Bits<R>(_ body: (UnsafeBufferPointer<UInt16>) throws -> R) rethrows -> R {
        guard case .bfloat16(let bits) = storage else {
            preconditionFailure("withBFloat16Bits on a \(dtype) tensor")
        }
        return try withExtendedLifetime(bits) { try body(bits.buffer) }
    }

    /// Placeholder storage while ``withMutableFloats(_:)`` holds the elements.
    private static let noFloats = AlignedElements<Float>(uninitializedCount: 0)
}

/// Conversions between Float32 and the 16-bit float formats checkpoints use.
public enum BFloat16 {
    /// Float32 → BFloat16 bits, rounding to nearest even (NaN stays NaN).
    @inlinable
    public static func bits(_ value: Float) -> UInt16 {
        let raw = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: raw >> 16) | 0x0040 }
        let rounding = UInt32(0x7FFF) + ((raw >> 16) & 1)
        return UInt16(truncatingIfNeeded: (raw &+ rounding) >> 16)
    }

    /// BFloat16 bits → Float32 (exact).
    @inlinable
    public static func float(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// IEEE half-precision bits → Float32 (exact, subnormals included).
    @inlinable
    public static func floatFromHalf(_ bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }
}
