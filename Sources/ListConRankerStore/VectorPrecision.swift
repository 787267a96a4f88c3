/// How a store keeps each element of a vector on disk.
///
/// Vectors are always handed in and out as `[Float]`; the precision only decides the stored bytes.
public enum VectorPrecision: String, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// IEEE 754 single precision, 4 bytes an element; a round trip is exact.
    case fp32
    /// bfloat16, 2 bytes an element: the upper half of the fp32 bits, rounded to nearest even.
    /// Halves the store (DESIGN.md §9: 1 M × 1,024 vectors are 4 GB in fp32, 2 GB in bf16);
    /// a round trip keeps 8 significant bits, a relative error of at most 2⁻⁹.
    case bf16

    /// Stored bytes per element.
    public var bytesPerElement: Int {
        switch self {
        case .fp32: return 4
        case .bf16: return 2
        }
    }

    public var description: String { rawValue }
}
