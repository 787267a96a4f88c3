import Foundation
import Testing
@testable import ListConRankerCUDA

/// Each kernel's registers a thread, read from a cubin NVRTC wrote: the count ptxas stored as the
/// `EIATTR_REGCOUNT` attribute (0x2f) of the module's `.nv.info` section, keyed by the kernel's
/// symbol, which its `.text.<name>` section's `sh_info` names. What `cuobjdump --dump-resource-usage`
/// prints, without the CUDA toolkit.
enum CubinRegisterCounts {
    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    /// Registers a thread by kernel name (mangled names as the cubin spells them; `extern "C"` ones plain).
    static func read(_ cubin: [UInt8]) throws -> [String: Int] {
        func integer<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) throws -> Int {
            guard offset >= 0, offset + MemoryLayout<T>.size <= cubin.count else {
                throw Malformed(description: "cubin ends before byte \(offset + MemoryLayout<T>.size)")
            }
            var value: T = 0
            for index in (0..<MemoryLayout<T>.size).reversed() { value = value << 8 | T(cubin[offset + index]) }
            return Int(value)
        }
        guard cubin.starts(with: [0x7f, 0x45, 0x4c, 0x46, 2, 1]) else {
            throw Malformed(description: "not a 64-bit little-endian ELF file")
        }
        let headers = try integer(UInt64.self, at: 0x28)
        let headerSize = try integer(UInt16.self, at: 0x3a)
        let count = try integer(UInt16.self, at: 0x3c)
        let namesIndex = try integer(UInt16.self, at: 0x3e)
        struct Section { let name: Int, offset: Int, size: Int, info: Int }
        let sections = try (0..<count).map { index in
            let header = headers + index * headerSize
            return Section(name: try integer(UInt32.self, at: header), offset: try integer(UInt64.self, at: header + 24),
                           size: try integer(UInt64.self, at: header + 32), info: try integer(UInt32.self, at: header + 44))
        }
        guard namesIndex < sections.count else { throw Malformed(description: "no section names") }
        func name(_ section: Section) -> String {
            let start = sections[namesIndex].offset + section.name
            let end = cubin[start...].firstIndex(of: 0) ?? cubin.count
            return String(decoding: cubin[start..<end], as: UTF8.self)
        }
        var kernelOfSymbol = [Int: String]()
        // The symbol is sh_info's low 24 bits (sm_80's cubins keep the register count in its top byte too).
        for section in sections where name(section).hasPrefix(".text.") {
            kernelOfSymbol[section.info & 0xff_ffff] = String(name(section).dropFirst(".text.".count))
        }
        guard let info = sections.first(where: { name($0) == ".nv.info" }) else {
            throw Malformed(description: "no .nv.info section")
        }
        // Entries: a format byte, an attribute byte, then a 16-bit length and that many bytes
        // (format 4, EIFMT_SVAL) or a 16-bit value (the other formats).
        var registers = [String: Int]()
        var offset = info.offset
        while offset + 4 <= info.offset + info.size {
            let format = cubin[offset], attribute = cubin[offset + 1]
            guard format == 4 else { offset += 4; continue }
            let length = try integer(UInt16.self, at: offset + 2)
            if attribute == 0x2f, length == 8, let kernel = kernelOfSymbol[try integer(UInt32.self, at: offset + 4)] {
                registers[kernel] = try integer(UInt32.self, at: offset + 8)
            }
            offset += 4 + length
        }
        return registers
    }

    /// Every kernel of `kernels` in `cubin` fits the largest block ``CUDAKernelSource/largestBlock(of:)``
    /// allows its launches. A block larger than a kernel's registers allow fails to launch on a GPU
    /// ("too many resources requested"), which the software device, having no registers, cannot show;
    /// `CUDADevice` refuses launches past the limit on either device.
    static func expectEveryKernelFitsItsLargestBlock(_ cubin: [UInt8], kernels: [String], architecture: String) throws {
        let registers = try read(cubin)
        for name in kernels {
            let count = try #require(registers[name], "no register count for \(name)")
            #expect((1...255).contains(count), "\(name): \(count) registers")
            let block = CUDAKernelSource.largestBlock(of: name)
            #expect(fits(threads: block, registers: count),
                    "\(name): \(count) registers a thread do not fit blocks of \(block) threads on \(architecture)")
        }
    }

    /// Whether a block of `threads` threads using `registers` each fits the 65,536 registers a
    /// block may hold on the architectures the kernels are built for (sm_80, sm_90): registers are
    /// given out 256 at a time to each warp.
    static func fits(threads: Int, registers: Int) -> Bool {
        let perWarp = (registers * 32 + 255) / 256 * 256
        return (threads + 31) / 32 * perWarp <= 65_536
    }
}
