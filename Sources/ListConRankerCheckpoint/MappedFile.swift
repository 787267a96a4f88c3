import Foundation
import ListConRankerTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory.
///
/// Opening a 1.3 GB checkpoint costs no copy: pages are read from disk (or the page
/// cache) when a tensor is first converted. The mapping is never written, so sharing
/// it between threads is safe.
final class MappedFile: @unchecked Sendable {
    /// The file.
    let url: URL
    /// The file's bytes (empty for an empty file).
    let bytes: UnsafeRawBufferPointer
    /// Whether `bytes` is an `mmap` (else heap memory this object allocated).
    private let isMapped: Bool

    /// Maps `url`; throws if it cannot be opened, is a directory or cannot be mapped.
    init(url: URL) throws {
        self.url = url
        // Non-blocking so that a FIFO cannot hang the open; it is then refused as not a regular file.
        let descriptor = open(url.path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            throw CheckpointError(file: url, "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw CheckpointError(file: url, "cannot stat: \(String(cString: strerror(errno)))")
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw CheckpointError(file: url, "not a regular file")
        }
        let size = Int(status.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            isMapped = false
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != MAP_FAILED else {
            throw CheckpointError(file: url, "cannot memory-map \(size) bytes: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
        isMapped = true
    }

    /// A copy of `contents` in memory, standing for the file `url` (for tests that feed
    /// thousands of generated files without touching the disk).
    init(url: URL, copying contents: [UInt8]) {
        self.url = url
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: contents.count, alignment: 64)
        memory.copyBytes(from: contents)
        bytes = UnsafeRawBufferPointer(memory)
        isMapped = false
    }

    deinit {
        guard let base = bytes.baseAddress else { return }
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }

    /// Number of bytes.
    var count: Int { bytes.count }

    /// Drops the resident pages lying wholly inside `region` (a part of this mapping), so that
    /// loading a model tensor by tensor never holds the whole file in memory on top of the
    /// converted weights. The mapping is private and never written, so a later read simply
    /// faults the pages in again from the file. Does nothing for an in-memory copy.
    func releasePages(within region: UnsafeRawBufferPointer) {
        guard isMapped, let base = bytes.baseAddress, let start = region.baseAddress,
              start >= base, start + region.count <= base + bytes.count else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0 else { return }
        let first = (Int(bitPattern: start) + page - 1) / page * page
        let end = (Int(bitPattern: start) + region.count) / page * page
        guard end > first, let address = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(address, end - first, Int32(MADV_DONTNEED))
    }

    /// The bytes `offset ..< offset + length`, or nil if that range is not inside the file.
    func slice(offset: Int, length: Int) -> UnsafeRawBufferPointer? {
        guard offset >= 0, length >= 0, let end = Checked.add(offset, length), end <= bytes.count else {
            return nil
        }
        guard let base = bytes.baseAddress else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + offset, count: length)
    }
}

/// Little-endian reads from a byte buffer that return nil instead of reading out of bounds.
extension UnsafeRawBufferPointer {
    /// The little-endian unsigned integer of `T`'s width at `offset`, or nil if out of bounds.
    func littleEndian<T: FixedWidthInteger & UnsignedInteger>(_: T.Type, at offset: Int) -> T? {
        guard offset >= 0, let end = Checked.add(offset, MemoryLayout<T>.size), end <= count,
              let base = baseAddress else { return nil }
        return T(littleEndian: (base + offset).loadUnaligned(as: T.self))
    }
}
