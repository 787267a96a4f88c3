/// Gradients of the loss with respect to every list-head parameter, laid out like
/// ``ListHeadParameters`` (same ``ParameterLayout``). Backward passes accumulate into it, so
/// several micro-batches can add up before one optimizer step; ``zero()`` starts afresh.
public struct ListHeadGradients: Sendable, Equatable {
    /// Where each named tensor lies in ``values``.
    public let layout: ParameterLayout
    /// All gradient elements, in layout order.
    public var values: [Float]

    /// Zero gradients for `layout`.
    public init(layout: ParameterLayout) {
        self.layout = layout
        values = [Float](repeating: 0, count: layout.count)
    }

    /// Wraps `values` laid out by `layout`; throws if the count differs.
    public init(layout: ParameterLayout, values: [Float]) throws {
        guard values.count == layout.count else {
            throw TrainingError.invalidInput("\(values.count) gradient values for \(layout.count) parameters")
        }
        self.layout = layout
        self.values = values
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
