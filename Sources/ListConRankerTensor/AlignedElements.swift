/// A fixed number of elements on the heap, starting at a 64-byte boundary: the storage of a
/// ``Tensor``.
///
/// Why not an `Array`: an array's elements begin 32 bytes into its allocation, so a matrix row
/// (2 or 4 KiB here) never starts on a cache line. oneDNN's AMX kernels load 64-byte tile rows,
/// and each such load then touches two cache lines. With aligned tensors the bf16 encoder ran
/// about 1.1× faster (BENCHMARKS.md, "Alignment").
///
/// The elements are written only while one ``Tensor`` holds the buffer alone (copy on write, see
/// ``Tensor/withMutableFloats(_:)``), so sharing a buffer across threads is safe.
final class AlignedElements<Element: BitwiseCopyable>: @unchecked Sendable {
    /// The alignment, in bytes, of the first element: one cache line, one AVX-512 register.
    static var alignment: Int { 64 }

    let count: Int
    let base: UnsafeMutablePointer<Element>
    /// The allocation `base` lies in.
    private let allocation: UnsafeMutableRawPointer

    /// Room for `count` elements, not initialised: the caller writes every one before reading.
    init(uninitializedCount count: Int) {
        precondition(count >= 0, "AlignedElements: negative count \(count)")
        self.count = count
        let bytes = Swift.max(count, 1) * MemoryLayout<Element>.stride
        // A plain allocation 63 bytes longer, with the elements at its first 64-byte boundary.
        // Asking the allocator for 64-byte alignment itself (aligned_alloc) left glibc's heap
        // fragmented: loading the full-size model peaked about 150 MiB higher.
        allocation = UnsafeMutableRawPointer.allocate(byteCount: bytes + Self.alignment - 1,
                                                      alignment: MemoryLayout<Element>.alignment)
        let offset = (Self.alignment - Int(bitPattern: allocation) % Self.alignment) % Self.alignment
        base = (allocation + offset).bindMemory(to: Element.self, capacity: Swift.max(count, 1))
    }

    /// A copy of `elements`.
    convenience init(_ elements: some Collection<Element>) {
        self.init(uninitializedCount: elements.count)
        _ = UnsafeMutableBufferPointer(start: base, count: count).initialize(from: elements)
    }

    /// `count` copies of `value`.
    convenience init(repeating value: Element, count: Int) {
        self.init(uninitializedCount: count)
        base.initialize(repeating: value, count: count)
    }

    deinit { allocation.deallocate() }

    var buffer: UnsafeBufferPointer<Element> { UnsafeBufferPointer(start: base, count: count) }

    /// A new buffer with the same elements.
    func copy() -> AlignedElements { AlignedElements(buffer) }

    /// The elements as an array (a copy).
    var array: [Element] { Array(buffer) }
}
