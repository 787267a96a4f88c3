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

/// Backing storage of a ``Tensor``: 32-bit floats, or bfloat16 bit patterns.
public enum TensorStorage: Sendable {
    case float32([Float])
    case bfloat16([UInt16])
}

/// A dense, row-major tensor: a shape and its elements, stored as Float32 or BFloat16.
///
/// Compute kernels work on Float32 tensors; BFloat16 storage holds weights that
/// matrix products consume directly (see ``LinearWeight``).
public struct Tensor: Sendable {
    /// Extent of each dimension, outermost first.
    public let shape: [Int]
    /// The elements, row-major.
    public private(set) var storage: TensorStorage

    /// Number of elements the shape holds.
    public static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// A Float32 tensor. `scalars.count` must equal the product of `shape`.
    public init(shape: [Int], scalars: [Float]) {
        precondition(Tensor.elementCount(shape) == scalars.count,
                     "Tensor: \(scalars.count) scalars do not fill shape \(shape)")
        self.shape = shape
        self.storage = .float32(scalars)
    }

    /// A BFloat16 tensor from raw bit patterns (the high 16 bits of a Float32).
    public init(shape: [Int], bfloat16Bits: [UInt16]) {
        precondition(Tensor.elementCount(shape) == bfloat16Bits.count,
                     "Tensor: \(bfloat16Bits.count) elements do not fill shape \(shape)")
        self.shape = shape
        self.storage = .bfloat16(bfloat16Bits)
    }

    /// A Float32 tensor of zeros.
    public init(zeros shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: 0, count: Tensor.elementCount(shape)))
    }

    /// A Float32 tensor whose elements `initializer` writes (all of them) without a zero fill first.
    init(uninitializedShape shape: [Int], initializer: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        let count = Tensor.elementCount(shape)
        let values = try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            try initializer(buffer)
            initialized = count
        }
        self.init(shape: shape, scalars: values)
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

    /// The elements as Float32 (converted from BFloat16 where needed).
    public var scalars: [Float] {
        switch storage {
        case .float32(let values): return values
        case .bfloat16(let bits): return bits.map(BFloat16.float)
        }
    }

    /// This tensor with Float32 storage.
    public func toFloat32() -> Tensor {
        if case .float32 = storage { return self }
        return Tensor(shape: shape, scalars: scalars)
    }

    /// This tensor with BFloat16 storage (round to nearest even).
    public func toBFloat16() -> Tensor {
        switch storage {
        case .bfloat16: return self
        case .float32(let values): return Tensor(shape: shape, bfloat16Bits: values.map(BFloat16.bits))
        }
    }

    /// The same elements under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(Tensor.elementCount(newShape) == count, "reshape \(shape) → \(newShape)")
        var copy = self
        copy.storageReshape(newShape)
        return copy
    }

    private mutating func storageReshape(_ newShape: [Int]) {
        switch storage {
        case .float32(let v): self = Tensor(shape: newShape, scalars: v)
        case .bfloat16(let v): self = Tensor(shape: newShape, bfloat16Bits: v)
        }
    }

    /// Read access to Float32 elements. The tensor must have Float32 storage.
    public func withFloats<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        guard case .float32(let values) = storage else {
            preconditionFailure("withFloats on a \(dtype) tensor")
        }
        return try values.withUnsafeBufferPointer(body)
    }

    /// Write access to Float32 elements. The tensor must have Float32 storage.
    public mutating func withMutableFloats<R>(_ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        guard case .float32(var values) = storage else {
            preconditionFailure("withMutableFloats on a \(dtype) tensor")
        }
        storage = .float32([]) // release the reference so the array stays uniquely owned
        defer { storage = .float32(values) }
        return try values.withUnsafeMutableBufferPointer(body)
    }

    /// Read access to BFloat16 bit patterns. The tensor must have BFloat16 storage.
    public func withBFloat16Bits<R>(_ body: (UnsafeBufferPointer<UInt16>) throws -> R) rethrows -> R {
        guard case .bfloat16(let bits) = storage else {
            preconditionFailure("withBFloat16Bits on a \(dtype) tensor")
        }
        return try bits.withUnsafeBufferPointer(body)
    }
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
