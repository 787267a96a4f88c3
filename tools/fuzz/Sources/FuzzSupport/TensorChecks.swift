import ListConRanker

/// Reads every tensor an opened checkpoint lists, both ways: opening validated the index, so a
/// listed tensor must read back with the advertised shape, and a read may only fail with a
/// `CheckpointError` (never trap or read out of bounds, which ASan would report).
public func readEveryTensor(_ store: any TensorStore) {
    for descriptor in store.descriptors {
        do {
            let float32 = try store.tensor(named: descriptor.name)
            let bfloat16 = try store.bfloat16Tensor(named: descriptor.name)
            guard float32.shape == descriptor.shape, bfloat16.shape == descriptor.shape,
                  float32.count == descriptor.elementCount else {
                invariantFailed("tensor \"\(descriptor.name)\": listed \(descriptor.shape), read back "
                    + "\(float32.shape) and \(bfloat16.shape)")
            }
        } catch is CheckpointError {
            // Refusing a listed tensor is allowed (an unsupported view, say); crashing is not.
        } catch {
            invariantFailed("tensor \"\(descriptor.name)\": not a CheckpointError: \(error)")
        }
    }
}
