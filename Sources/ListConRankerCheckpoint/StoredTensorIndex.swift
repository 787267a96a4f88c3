import Foundation
import ListConRankerTensor

/// Where one tensor's elements lie in a mapped file: a storage (a byte range), an element
/// offset into it and per-dimension strides, as PyTorch describes views. A safetensors
/// tensor is the contiguous case.
struct StoredTensor: @unchecked Sendable {
    /// Name, element type and shape.
    let descriptor: TensorDescriptor
    /// The storage's bytes inside the mapping (validated to hold every addressed element).
    let storage: UnsafeRawBufferPointer
    /// Index, in elements, of the tensor's first element inside the storage.
    let storageOffset: Int
    /// Elements to step in the storage per unit of each dimension.
    let strides: [Int]

    /// Row-major strides of a contiguous tensor of `shape`.
    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for dim in shape.indices.reversed() {
            strides[dim] = step
            step = Checked.multiply(step, max(shape[dim], 1)) ?? 0
        }
        return strides
    }

    /// Checks that every element a view addresses lies inside a storage of
    /// `storageElements` elements; returns the problem, or nil when the view fits.
    static func viewProblem(shape: [Int], strides: [Int], storageOffset: Int, storageElements: Int) -> String? {
        guard shape.count == strides.count else {
            return "size \(shape) and stride \(strides) differ in length"
        }
        guard storageOffset >= 0 else { return "negative storage offset \(storageOffset)" }
        guard shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else {
            return "negative size or stride (size \(shape), stride \(strides))"
        }
        guard let count = Checked.elementCount(shape) else { return "element count of \(shape) overflows" }
        if count == 0 { return nil }
        var last = storageOffset
        for (size, stride) in zip(shape, strides) {
            guard let span = Checked.multiply(size - 1, stride), let next = Checked.add(last, span) else {
                return "view size \(shape), stride \(strides), offset \(storageOffset) overflows"
            }
            last = next
        }
        guard last < storageElements else {
            return "view size \(shape), stride \(strides), offset \(storageOffset) reaches element \(last) "
                + "of a storage of \(storageElements) elements"
        }
        return nil
    }

    /// Whether the elements form one row-major run (dimensions of extent 1 may have any stride).
    var isContiguous: Bool {
        var expected = 1
        for dim in descriptor.shape.indices.reversed() where descriptor.shape[dim] != 1 {
            if strides[dim] != expected { return false }
            expected *= descriptor.shape[dim]
        }
        return true
    }

    /// Visits the tensor in runs (the whole tensor when contiguous, else one row of the
    /// innermost dimension at a time): `body` gets the source address of the run's first
    /// element, the stride within the run, the index of its first element in row-major output
    /// order and its length.
    func forEachRun(_ body: (UnsafeRawPointer, _ stride: Int, _ outputIndex: Int, _ length: Int) -> Void) {
        let shape = descriptor.shape
        let count = descriptor.elementCount
        guard count > 0, let base = storage.baseAddress else { return }
        let elementSize = descriptor.dtype.byteSize
        if shape.isEmpty || isContiguous {
            body(base + storageOffset * elementSize, 1, 0, count)
            return
        }
        let rowLength = shape[shape.count - 1]
        let innerStride = strides[strides.count - 1]
        let outerRank = shape.count - 1
        var index = [Int](repeating: 0, count: outerRank)
        var sourceElement = storageOffset
        var output = 0
        while output < count {
            body(base + sourceElement * elementSize, innerStride, output, rowLength)
            output += rowLength
            // Odometer increment over the outer dimensions, keeping the source offset in step.
            var dim = outerRank - 1
            while dim >= 0 {
                index[dim] += 1
                sourceElement += strides[dim]
                if index[dim] < shape[dim] { break }
                sourceElement -= strides[dim] * shape[dim]
                index[dim] = 0
                dim -= 1
            }
        }
    }
}

/// The tensors of one opened file by name, and the conversions every reader shares.
struct StoredTensorIndex: Sendable {
    let url: URL
    let tensors: [String: StoredTensor]
    let descriptors: [TensorDescriptor]
    let otherTensors: [String: OtherTensorDescriptor]
    let sortedOtherTensors: [OtherTensorDescriptor]
    /// The mapping the tensors lie in: read pages are dropped from it after each conversion.
    let mapping: MappedFile?

    init(url: URL, tensors: [StoredTensor], otherTensors: [OtherTensorDescriptor], mapping: MappedFile? = nil) {
        self.url = url
        self.mapping = mapping
        self.tensors = Dictionary(tensors.map { ($0.descriptor.name, $0) }, uniquingKeysWith: { _, last in last })
        self.descriptors = self.tensors.values.map(\.descriptor).sorted { $0.name < $1.name }
        self.otherTensors = Dictionary(otherTensors.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
        self.sortedOtherTensors = self.otherTensors.values.sorted { $0.name < $1.name }
    }

    func stored(named name: String) throws -> StoredTensor {
        if let tensor = tensors[name] { return tensor }
        if let other = otherTensors[name] {
            throw CheckpointError(file: url, """
                tensor "\(name)" has element type \(other.typeName); only F32, F16 and BF16 tensors can be read
                """)
        }
        throw CheckpointError(file: url, "no tensor named \"\(name)\"")
    }

    func float32Tensor(named name: String) throws -> Tensor {
        let tensor = try stored(named: name)
        let count = tensor.descriptor.elementCount
        let dtype = tensor.descriptor.dtype
        let values = Tensor(uninitializedShape: tensor.descriptor.shape) { buffer in
            guard count > 0, let destination = buffer.baseAddress else { return }
            tensor.forEachRun { source, stride, output, rowLength in
                if stride == 1 {
                    ElementConversion.toFloat32(source, dtype, count: rowLength, into: destination + output)
                } else {
                    ElementConversion.toFloat32(source, dtype, count: rowLength, stride: stride,
                                                into: destination + output)
                }
            }
        }
        mapping?.releasePages(within: tensor.storage)
        return values
    }

    func bfloat16Tensor(named name: String) throws -> Tensor {
        let tensor = try stored(named: name)
        let count = tensor.descriptor.elementCount
        let dtype = tensor.descriptor.dtype
        let bits = Tensor(uninitializedBFloat16Shape: tensor.descriptor.shape) { buffer in
            guard count > 0, let destination = buffer.baseAddress else { return }
            tensor.forEachRun { source, stride, output, rowLength in
                ElementConversion.toBFloat16(source, dtype, count: rowLength, stride: stride,
                                             into: destination + output)
            }
        }
        mapping?.releasePages(within: tensor.storage)
        return bits
    }
}
