import Foundation

/// A zero-initialised, fixed-size Float32 buffer with a stable address, for activations and
/// their gradients: the ops take raw pointers (as llm.c's do), and an array's storage may not
/// be held across calls. Freed with the buffer.
final class FloatBuffer: @unchecked Sendable {
    /// Number of elements.
    let count: Int
    /// The first element (valid for the buffer's lifetime).
    let pointer: UnsafeMutablePointer<Float>

    /// Whether `pointer` came from `calloc` (else from `allocate`).
    private let fromCalloc: Bool

    /// `count` zeros. From `calloc`: a large buffer comes as fresh pages the kernel has already
    /// zeroed, so nothing is written here, and each page is touched first by whichever thread
    /// first writes it, not by one thread clearing the whole buffer up front (that serial
    /// clearing was 2 % of a stage-2 pass on m3e-small).
    init(count: Int) {
        self.count = count
        let capacity = max(count, 1)
        if let raw = calloc(capacity, MemoryLayout<Float>.stride) {
            pointer = raw.bindMemory(to: Float.self, capacity: capacity)
            fromCalloc = true
        } else {
            // No memory: `allocate` reports it as any Swift allocation does.
            pointer = .allocate(capacity: capacity)
            pointer.initialize(repeating: 0, count: capacity)
            fromCalloc = false
        }
    }

    /// A copy of `elements`.
    convenience init(_ elements: [Float]) {
        self.init(count: elements.count)
        elements.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { pointer.update(from: base, count: elements.count) }
        }
    }

    deinit {
        if fromCalloc { free(pointer) } else { pointer.deallocate() }
    }

    /// Sets every element to zero.
    func zero() { pointer.update(repeating: 0, count: count) }

    /// The elements as an array.
    var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}
