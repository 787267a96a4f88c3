/// Reading and replacing one named tensor of a flat Float32 buffer (the list head's and the
/// encoder's parameters and gradients all keep their tensors back to back, see ``ParameterLayout``).
enum FlatTensors {
    /// The elements of `entry`, row-major.
    static func tensor(_ values: [Float], _ entry: ParameterLayout.Entry) -> [Float] {
        Array(values[entry.range])
    }

    /// Replaces the elements of `entry` with `elements`; throws if the count differs.
    static func set(_ values: inout [Float], _ entry: ParameterLayout.Entry, _ elements: [Float]) throws {
        guard elements.count == entry.count else {
            throw TrainingError.invalidInput("\(elements.count) values for \"\(entry.name)\" of shape \(entry.shape)")
        }
        values.replaceSubrange(entry.range, with: elements)
    }
}
