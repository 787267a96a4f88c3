import Foundation

/// Writes a zip archive whose entries are stored uncompressed, as `torch.save` writes its
/// checkpoints: every entry's data starts on a 64-byte boundary (padded through a `FB` extra
/// field, as PyTorch's writer does), so readers can map storages in place.
struct StoredZipWriter {
    private(set) var bytes = Data()
    private var central = Data()
    private var count = 0
    static let alignment = 64

    /// Appends the entry `name` holding `contents`; throws past the classic zip's 4 GiB and
    /// 65,535-entry limits (a list head is far below them).
    mutating func add(_ name: String, _ contents: Data) throws {
        let nameBytes = Data(name.utf8)
        guard bytes.count < UInt32.max - 1024, contents.count < UInt32.max, count < UInt16.max,
              bytes.count + contents.count < Int(UInt32.max) - 1024 else {
            throw TrainingError.writeFailed("zip entry \(name): archive over 4 GiB or 65,535 entries")
        }
        let headerOffset = bytes.count
        // Pad so the data begins on the alignment boundary: header 30 bytes, the name, then the
        // 4-byte extra-field header and the padding.
        let unpadded = headerOffset + 30 + nameBytes.count + 4
        let padding = (Self.alignment - unpadded % Self.alignment) % Self.alignment
        var extra = Data([UInt8(ascii: "F"), UInt8(ascii: "B")])
        extra.appendLittleEndian(UInt16(padding))
        extra.append(Data(repeating: UInt8(ascii: "Z"), count: padding))
        let crc = CRC32.checksum(contents)

        bytes.appendLittleEndian(UInt32(0x0403_4B50))   // local file header
        bytes.appendLittleEndian(UInt16(20))            // version needed: 2.0
        bytes.appendLittleEndian(UInt16(0))             // flags
        bytes.appendLittleEndian(UInt16(0))             // method: stored
        bytes.appendLittleEndian(UInt16(0))             // time 00:00
        bytes.appendLittleEndian(UInt16(0x21))          // date 1980-01-01
        bytes.appendLittleEndian(crc)
        bytes.appendLittleEndian(UInt32(contents.count))
        bytes.appendLittleEndian(UInt32(contents.count))
        bytes.appendLittleEndian(UInt16(nameBytes.count))
        bytes.appendLittleEndian(UInt16(extra.count))
        bytes.append(nameBytes)
        bytes.append(extra)
        bytes.append(contents)

        central.appendLittleEndian(UInt32(0x0201_4B50)) // central directory header
        central.appendLittleEndian(UInt16(20))          // version made by
        central.appendLittleEndian(UInt16(20))          // version needed
        central.appendLittleEndian(UInt16(0))
        central.appendLittleEndian(UInt16(0))
        central.appendLittleEndian(UInt16(0))
        central.appendLittleEndian(UInt16(0x21))
        central.appendLittleEndian(crc)
        central.appendLittleEndian(UInt32(contents.count))
        central.appendLittleEndian(UInt32(contents.count))
        central.appendLittleEndian(UInt16(nameBytes.count))
        central.appendLittleEndian(UInt16(0))           // no extra field here
        central.appendLittleEndian(UInt16(0))           // comment
        central.appendLittleEndian(UInt16(0))           // disk
        central.appendLittleEndian(UInt16(0))           // internal attributes
        central.appendLittleEndian(UInt32(0))           // external attributes
        central.appendLittleEndian(UInt32(headerOffset))
        central.append(nameBytes)
        count += 1
    }

    /// The archive: the entries, the central directory and its end record.
    func finished() -> Data {
        var out = bytes
        let directoryOffset = out.count
        out.append(central)
        out.appendLittleEndian(UInt32(0x0605_4B50))     // end of central directory
        out.appendLittleEndian(UInt16(0))
        out.appendLittleEndian(UInt16(0))
        out.appendLittleEndian(UInt16(count))
        out.appendLittleEndian(UInt16(count))
        out.appendLittleEndian(UInt32(central.count))
        out.appendLittleEndian(UInt32(directoryOffset))
        out.appendLittleEndian(UInt16(0))
        return out
    }
}
