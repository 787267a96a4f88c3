import Foundation
import ListConRankerTensor

/// The entries of a zip archive over a memory map, as `torch.save` writes them: stored
/// (uncompressed), sizes in the central directory (the local headers use data descriptors),
/// zip64 end records and, for large files, zip64 extra fields.
///
/// Only the central directory is trusted for sizes and offsets; each entry's data start is
/// found from its local header (whose extra field holds torch's alignment padding).
struct ZipArchive {
    /// One entry: its name, compression method and where its bytes lie in the file.
    struct Entry {
        let name: String
        /// 0 for stored; anything else is compressed and cannot be read in place.
        let method: UInt16
        let dataOffset: Int
        /// Size in the file (compressed size for a compressed entry).
        let size: Int
    }

    let url: URL
    /// Entries by name.
    let entries: [String: Entry]

    private static let endOfCentralDirectory: UInt32 = 0x0605_4B50
    private static let zip64EndLocator: UInt32 = 0x0706_4B50
    private static let zip64End: UInt32 = 0x0606_4B50
    private static let centralHeader: UInt32 = 0x0201_4B50
    private static let localHeader: UInt32 = 0x0403_4B50

    init(mapping: MappedFile) throws {
        url = mapping.url
        let bytes = mapping.bytes
        let url = self.url
        func fail(_ problem: String) -> CheckpointError { CheckpointError(file: url, "zip archive: \(problem)") }

        // The end record is the last 22 bytes plus a comment of up to 65535 bytes: search backwards.
        var endOffset: Int?
        var candidate = bytes.count - 22
        let lowest = max(0, bytes.count - 22 - 65535)
        while candidate >= lowest {
            if bytes.littleEndian(UInt32.self, at: candidate) == Self.endOfCentralDirectory {
                endOffset = candidate
                break
            }
            candidate -= 1
        }
        guard let endOffset,
              let entryCount16 = bytes.littleEndian(UInt16.self, at: endOffset + 10),
              let directorySize32 = bytes.littleEndian(UInt32.self, at: endOffset + 12),
              let directoryOffset32 = bytes.littleEndian(UInt32.self, at: endOffset + 16) else {
            throw fail("no end-of-central-directory record (truncated file?)")
        }
        var entryCount = Int(entryCount16)
        var directorySize = Int(directorySize32)
        var directoryOffset = Int(directoryOffset32)

        // Zip64: a locator right before the end record points to the zip64 end record.
        if endOffset >= 20, bytes.littleEndian(UInt32.self, at: endOffset - 20) == Self.zip64EndLocator {
            guard let recordOffset = bytes.littleEndian(UInt64.self, at: endOffset - 12).flatMap(Checked.int),
                  bytes.littleEndian(UInt32.self, at: recordOffset) == Self.zip64End,
                  let count = bytes.littleEndian(UInt64.self, at: recordOffset + 32).flatMap(Checked.int),
                  let size = bytes.littleEndian(UInt64.self, at: recordOffset + 40).flatMap(Checked.int),
                  let offset = bytes.littleEndian(UInt64.self, at: recordOffset + 48).flatMap(Checked.int) else {
                throw fail("bad zip64 end-of-central-directory record")
            }
            entryCount = count
            directorySize = size
            directoryOffset = offset
        }
        guard let directory = mapping.slice(offset: directoryOffset, length: directorySize) else {
            throw fail("central directory [\(directoryOffset), +\(directorySize)) lies outside the "
                + "\(bytes.count)-byte file (truncated?)")
        }

        var entries: [String: Entry] = [:]
        var position = 0
        for number in 0..<entryCount {
            guard directory.littleEndian(UInt32.self, at: position) == Self.centralHeader,
                  let method = directory.littleEndian(UInt16.self, at: position + 10),
                  let compressed32 = directory.littleEndian(UInt32.self, at: position + 20),
                  let size32 = directory.littleEndian(UInt32.self, at: position + 24),
                  let nameLength = directory.littleEndian(UInt16.self, at: position + 28).map(Int.init),
                  let extraLength = directory.littleEndian(UInt16.self, at: position + 30).map(Int.init),
                  let commentLength = directory.littleEndian(UInt16.self, at: position + 32).map(Int.init),
                  let localOffset32 = directory.littleEndian(UInt32.self, at: position + 42),
                  position + 46 + nameLength + extraLength + commentLength <= directory.count else {
                throw fail("central directory entry \(number) at byte \(directoryOffset + position) is malformed")
            }
            let nameBytes = UnsafeRawBufferPointer(rebasing: directory[(position + 46)..<(position + 46 + nameLength)])
            let name = String(decoding: nameBytes, as: UTF8.self)
            let extra = UnsafeRawBufferPointer(
                rebasing: directory[(position + 46 + nameLength)..<(position + 46 + nameLength + extraLength)])

            // Fields saturated at 0xFFFFFFFF are in the zip64 extra field, in this order.
            var size = Int(size32)
            var compressedSize = Int(compressed32)
            var localOffset = Int(localOffset32)
            if size32 == .max || compressed32 == .max || localOffset32 == .max {
                guard let zip64 = Self.zip64Field(in: extra) else {
                    throw fail("entry \"\(name)\" needs a zip64 extra field and has none")
                }
                var cursor = 0
                func next() -> Int? {
                    defer { cursor += 8 }
                    return zip64.littleEndian(UInt64.self, at: cursor).flatMap(Checked.int)
                }
                if size32 == .max { guard let value = next() else { throw fail("entry \"\(name)\": short zip64 field") }; size = value }
                if compressed32 == .max { guard let value = next() else { throw fail("entry \"\(name)\": short zip64 field") }; compressedSize = value }
                if localOffset32 == .max { guard let value = next() else { throw fail("entry \"\(name)\": short zip64 field") }; localOffset = value }
            }
            guard method != 0 || compressedSize == size else {
                throw fail("entry \"\(name)\" is stored but its sizes differ (\(compressedSize) vs \(size))")
            }
            guard bytes.littleEndian(UInt32.self, at: localOffset) == Self.localHeader,
                  let localNameLength = bytes.littleEndian(UInt16.self, at: localOffset + 26),
                  let localExtraLength = bytes.littleEndian(UInt16.self, at: localOffset + 28) else {
                throw fail("entry \"\(name)\": no local header at byte \(localOffset)")
            }
            let dataOffset = localOffset + 30 + Int(localNameLength) + Int(localExtraLength)
            guard mapping.slice(offset: dataOffset, length: compressedSize) != nil else {
                throw fail("entry \"\(name)\" (\(compressedSize) bytes at byte \(dataOffset)) runs past the end of the "
                    + "\(bytes.count)-byte file (truncated?)")
            }
            entries[name] = Entry(name: name, method: method, dataOffset: dataOffset, size: compressedSize)
            position += 46 + nameLength + extraLength + commentLength
        }
        self.entries = entries
    }

    /// The bytes of the stored entry `name`; throws if it is compressed.
    /// (Entries were checked to lie inside the file when the archive was read.)
    func storedBytes(of entry: Entry, in mapping: MappedFile) throws -> UnsafeRawBufferPointer {
        guard entry.method == 0 else {
            throw CheckpointError(file: url, "zip archive: entry \"\(entry.name)\" is compressed "
                + "(method \(entry.method)); torch.save stores entries uncompressed, so it cannot be read in place")
        }
        guard let bytes = mapping.slice(offset: entry.dataOffset, length: entry.size) else {
            throw CheckpointError(file: url, "zip archive: entry \"\(entry.name)\" lies outside the file")
        }
        return bytes
    }

    /// The data of the zip64 extended-information extra field (id 1), if present.
    private static func zip64Field(in extra: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var position = 0
        while let id = extra.littleEndian(UInt16.self, at: position),
              let length = extra.littleEndian(UInt16.self, at: position + 2).map(Int.init) {
            let start = position + 4
            guard start + length <= extra.count else { return nil }
            if id == 1 { return UnsafeRawBufferPointer(rebasing: extra[start..<(start + length)]) }
            position = start + length
        }
        return nil
    }
}
