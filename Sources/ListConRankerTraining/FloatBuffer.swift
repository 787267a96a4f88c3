/// A zero-initialised, fixed-size Float32 buffer with a stable address, for activations and
/// their gradients: the ops take raw pointers (as llm.c's do), and an array's storage may not
/// be held across calls. Freed with the buffer.
final class FloatBuffer: @unchecked Sendable {
    /// Number of elements.
    let count: Int
    /// The first element (valid for the buffer's lifetime).
    let pointer: UnsafeMutablePointer<Float>

    /// `count` zeros.
    init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    /// A copy of `elements`.
    convenience init(_ elements: [Float]) {
        self.init(count: elements.count)
        elements.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { pointer.update(from: base, count: elements.count) }
        }
    }

    deinit { pointer.deallocate() }

    /// Sets every element to zero.
    func zero() { pointer.update(repeating: 0, count: count) }

    /// The elements as an array.
    var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}
