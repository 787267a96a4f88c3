import Foundation
import ListConRanker

/// Writes a trained encoder as `model.safetensors` under the names its input file used (HF
/// `BertModel` keys, with the `bert.` prefix where the input had it), so transformers' `BertModel`
/// and this project's reader load it as they loaded the original.
///
/// Every floating-point tensor of the input is written, in the input's order: the trained ones
/// with their new values, the others (the pooler and any task head, which mean pooling never
/// reads) copied unchanged, as Float32. Non-float buffers such as an `I64`
/// `embeddings.position_ids` are left out: they are not weights, and current transformers
/// recreates them.
public enum EncoderCheckpointWriter {
    /// The file name written.
    public static let fileName = "model.safetensors"

    /// Writes `encoder` into `directory` (which must exist), taking names, order and the untrained
    /// tensors from the input weights file `source` (safetensors or `pytorch_model.bin`). Streamed:
    /// the trained tensors are written from the parameters' own buffer, the others read one at a
    /// time, so saving takes no copy of the encoder.
    public static func write(_ encoder: EncoderParameters, source: URL, to directory: URL) throws {
        try SafetensorsWriter.write(entries: try entries(encoder, source: source), to: directory.appendingPathComponent(fileName))
    }

    /// The tensors to write, in the source's order, as values read when written.
    static func entries(_ encoder: EncoderParameters, source: URL) throws -> [SafetensorsWriter.Entry] {
        let store: any TensorStore
        do { store = try openCheckpoint(at: source) } catch {
            throw TrainingError.badWeights("\(source.path): \(error)")
        }
        var trained = Set<String>()
        let written = try store.descriptors.map { descriptor -> SafetensorsWriter.Entry in
            let name = layoutName(descriptor.name, prefix: encoder.keyPrefix)
            if let entry = encoder.layout.entry(name) {
                guard entry.shape == descriptor.shape else {
                    throw TrainingError.badWeights("\(source.path): \(descriptor.name) has shape \(descriptor.shape), "
                        + "the trained tensor \(entry.shape)")
                }
                trained.insert(name)
                return SafetensorsWriter.Entry(name: descriptor.name, shape: entry.shape) { encoder.values[entry.range] }
            }
            return SafetensorsWriter.Entry(name: descriptor.name, shape: descriptor.shape) {
                do { return try store.tensor(named: descriptor.name).scalars[...] } catch {
                    throw TrainingError.badWeights("\(source.path): \(descriptor.name): \(error)")
                }
            }
        }
        let missing = encoder.layout.entries.map(\.name).filter { !trained.contains($0) }
        guard missing.isEmpty else {
            throw TrainingError.badWeights("\(source.path) lacks trained tensors \(missing.prefix(3).joined(separator: ", "))")
        }
        return written
    }

    /// The layout's name for a stored key: without the prefix, and with an older checkpoint's
    /// LayerNorm `gamma`/`beta` read as `weight`/`bias` (the stored name is kept when writing).
    static func layoutName(_ stored: String, prefix: String) -> String {
        let name = stored.hasPrefix(prefix) ? String(stored.dropFirst(prefix.count)) : stored
        guard name.contains("LayerNorm.") else { return name }
        if name.hasSuffix(".gamma") { return String(name.dropLast("gamma".count)) + "weight" }
        if name.hasSuffix(".beta") { return String(name.dropLast("beta".count)) + "bias" }
        return name
    }
}
