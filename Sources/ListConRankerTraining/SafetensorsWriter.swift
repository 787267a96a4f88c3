import Foundation

/// Writes Float32 tensors as a `.safetensors` file, the format of a BERT encoder's
/// `model.safetensors`: an 8-byte little-endian header length, a JSON header naming each tensor's
/// `dtype` (`F32`), `shape` and `data_offsets` (plus `__metadata__: {"format": "pt"}`, without which
/// transformers refuses the file), padded with spaces to a multiple of 8 bytes as the reference
/// implementation pads it, then the tensors' bytes back to back in header order.
///
/// Stage 2 writes the trained encoder with it under the names the input had, so transformers'
/// `BertModel` and this project's reader load the result as they loaded the original.
public enum SafetensorsWriter {
    /// A tensor whose values are asked for only when the file reaches it, so a checkpoint is
    /// written one tensor at a time instead of from a copy of all of them.
    public struct Entry {
        /// The key.
        public let name: String
        /// Extent of each dimension, outermost first (row-major).
        public let shape: [Int]
        /// The elements, row-major (asked once, when written).
        public let values: () throws -> ArraySlice<Float>

        /// An entry; `values` must give `shape`'s element count.
        public init(name: String, shape: [Int], values: @escaping () throws -> ArraySlice<Float>) {
            self.name = name
            self.shape = shape
            self.values = values
        }

        /// An entry of a tensor already in memory.
        public init(_ tensor: PyTorchStateDictWriter.Tensor) {
            self.init(name: tensor.name, shape: tensor.shape, values: { tensor.values[...] })
        }
    }

    /// The file's bytes; tensors keep the order given. Throws on duplicate names.
    public static func file(_ tensors: [PyTorchStateDictWriter.Tensor]) throws -> Data {
        var data = try header(tensors.map(Entry.init))
        for tensor in tensors { data.appendLittleEndian(tensor.values) }
        return data
    }

    /// Writes the file to `url` atomically (a temporary file renamed into place).
    public static func write(_ tensors: [PyTorchStateDictWriter.Tensor], to url: URL) throws {
        try write(entries: tensors.map(Entry.init), to: url)
    }

    /// Writes the file to `url` atomically, streaming: each entry's values are asked for in turn
    /// and written a megabyte at a time, so the memory taken is one tensor's at most (none for
    /// values that are slices of existing buffers). Throws on duplicate names or a wrong count.
    public static func write(entries: [Entry], to url: URL) throws {
        let file = try StreamingFileWriter(url: url)
        try file.write(try header(entries))
        for entry in entries {
            let values = try entry.values()
            guard values.count == entry.shape.reduce(1, *) else {
                throw TrainingError.invalidInput("tensor \"\(entry.name)\": \(values.count) values for shape \(entry.shape)")
            }
            try file.write(values)
        }
        try file.commit()
    }

    /// The length field and the JSON header (padded to 8 bytes) of `entries`.
    static func header(_ entries: [Entry]) throws -> Data {
        guard Set(entries.map(\.name)).count == entries.count else {
            throw TrainingError.invalidInput("safetensors file has duplicate tensor names")
        }
        var header = ["{\"__metadata__\":{\"format\":\"pt\"}"]
        var offset = 0
        for entry in entries {
            guard entry.shape.allSatisfy({ $0 >= 0 }) else {
                throw TrainingError.invalidInput("tensor \"\(entry.name)\" has a negative dimension in \(entry.shape)")
            }
            let bytes = entry.shape.reduce(1, *) * 4
            header.append("\(jsonString(entry.name)):{\"dtype\":\"F32\",\"shape\":[\(entry.shape.map(String.init).joined(separator: ","))],"
                + "\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        var json = Data((header.joined(separator: ",") + "}").utf8)
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        var data = Data(capacity: 8 + json.count)
        data.appendLittleEndian(UInt64(json.count))
        data.append(json)
        return data
    }

    /// A JSON string literal (tensor names are ASCII keys in practice; escape what JSON requires anyway).
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
