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
    /// The file's bytes; tensors keep the order given. Throws on duplicate names.
    public static func file(_ tensors: [PyTorchStateDictWriter.Tensor]) throws -> Data {
        guard Set(tensors.map(\.name)).count == tensors.count else {
            throw TrainingError.invalidInput("safetensors file has duplicate tensor names")
        }
        var header = ["{\"__metadata__\":{\"format\":\"pt\"}"]
        var offset = 0
        for tensor in tensors {
            let bytes = tensor.values.count * 4
            header.append("\(jsonString(tensor.name)):{\"dtype\":\"F32\",\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],"
                + "\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        var json = Data((header.joined(separator: ",") + "}").utf8)
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        var data = Data(capacity: 8 + json.count + offset)
        data.appendLittleEndian(UInt64(json.count))
        data.append(json)
        for tensor in tensors { data.appendLittleEndian(tensor.values) }
        return data
    }

    /// Writes the file to `url` atomically (a temporary file renamed into place).
    public static func write(_ tensors: [PyTorchStateDictWriter.Tensor], to url: URL) throws {
        let data = try file(tensors)
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw TrainingError.writeFailed("\(url.path): \(error.localizedDescription)")
        }
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
