/// Gradients of the loss with respect to every encoder parameter, laid out like
/// ``EncoderParameters``. Backward passes accumulate into it (micro-batches add up before one
/// optimizer step); ``zero()`` starts afresh.
public struct EncoderGradients: Sendable, Equatable {
    /// Where each named tensor lies in ``values``.
    public let layout: EncoderParameterLayout
    /// All gradient elements, in layout order.
    public var values: [Float]

    /// Zero gradients for `layout`.
    public init(layout: EncoderParameterLayout) {
        self.layout = layout
        values = [Float](repeating: 0, count: layout.count)
    }

    /// The gradient of tensor `name`, row-major; throws if there is none.
    public func tensor(_ name: String) throws -> [Float] {
        Array(values[try layout.require(name).range])
    }

    /// Sets every gradient to zero.
    public mutating func zero() {
        values.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}
