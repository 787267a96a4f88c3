import Foundation
import Testing
@testable import ListConRanker
@testable import ListConRankerCheckpoint
@testable import ListConRankerTensor
@testable import ListConRankerTokenizer

/// The restricted unpickler on hand-written hostile pickles, and the view checks.
@Suite struct CheckpointPickleTests {
    /// Unpickles `bytes` (as the member `t/data.pkl` of a file named `x.pt`).
    func load(_ bytes: [UInt8]) throws -> PickleValue {
        try bytes.withUnsafeBytes { raw in
            var unpickler = StateDictUnpickler(bytes: raw, url: URL(fileURLWithPath: "/x.pt"), member: "t/data.pkl")
            return try unpickler.load()
        }
    }

    func expectRefused(_ bytes: [UInt8], _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try load(bytes)
            Issue.record("pickle accepted", sourceLocation: sourceLocation)
        } catch let error as CheckpointError {
            #expect(error.description.hasPrefix("/x.pt: t/data.pkl byte "), "\(error)", sourceLocation: sourceLocation)
            for fragment in fragments {
                #expect(error.description.contains(fragment), "\(error) lacks \(fragment)", sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    static let proto2: [UInt8] = [0x80, 0x02]

    @Test func acceptsAPlainDict() throws {
        // {'a': 1} with BINUNICODE, BINPUT, BININT1, SETITEM.
        let bytes = Self.proto2 + Array("}q\u{0}X".utf8) + [1, 0, 0, 0] + Array("aK".utf8) + [1] + Array("s.".utf8)
        guard case .dict(let dict) = try load(bytes) else { Issue.record("not a dict"); return }
        #expect(dict.keys.count == 1)
        guard case .string("a") = dict.keys[0], case .int(1) = dict.values[0] else {
            Issue.record("wrong contents"); return
        }
    }

    @Test func deepNestingIsRefusedBeforeItCanOverflowTheStack() {
        let bytes = Self.proto2 + [UInt8(ascii: ")")] + [UInt8](repeating: 0x85, count: 200_000) + [UInt8(ascii: ".")]
        expectRefused(bytes, ["nested deeper than 64"])
    }

    @Test func containersCannotChangeAfterNesting() {
        // l0 = []; l1 = []; l0.append(l1) freezes l1; l1.append(None) is refused. This is how a
        // long chain of lists could be built with every recorded depth small.
        var bytes = Self.proto2
        bytes += Array("]q\u{0}]q\u{1}a".utf8)           // l0, l1, l0.append(l1)
        bytes += Array("h\u{1}Na.".utf8)                  // push l1, l1.append(None)
        expectRefused(bytes, ["changing a list after nesting it"])
        // d[None] = d: a dict inside itself.
        expectRefused(Self.proto2 + Array("}q\u{0}Nh\u{0}s.".utf8), ["changing a dict after nesting it"])
    }

    @Test func malformedArgumentsAreRefused() {
        expectRefused(Self.proto2 + [0x8A, 9] + [UInt8](repeating: 1, count: 9) + [UInt8(ascii: ".")],
                      ["integer of 9 bytes is too large"])
        expectRefused(Self.proto2 + [UInt8(ascii: "X"), 0xFF, 0xFF, 0xFF, 0xFF, 0x41], ["runs past the end"])
        expectRefused(Self.proto2 + [UInt8(ascii: "X"), 2, 0, 0, 0, 0xC3, 0x28, UInt8(ascii: ".")], ["not valid UTF-8"])
        expectRefused([0x80, 0x06, UInt8(ascii: ".")], ["unsupported pickle protocol 6"])
        expectRefused(Self.proto2 + Array("t.".utf8), ["no MARK"])
        expectRefused(Self.proto2 + Array("(s.".utf8), ["stack underflow"])
        expectRefused(Self.proto2 + Array("h\u{7}.".utf8), ["memo entry 7 was never stored"])
        expectRefused(Self.proto2 + Array("N".utf8), ["without STOP"])
        expectRefused(Self.proto2 + Array("NQ.".utf8), ["persistent id is not"])
        expectRefused(Self.proto2 + Array("ctorch\nFloatStorage\n)R.".utf8), ["may only appear in a persistent id"])
        expectRefused(Self.proto2 + Array("ccollections\nOrderedDict\nNR.".utf8), ["REDUCE of collections.OrderedDict"])
        expectRefused(Self.proto2 + Array("NNb.".utf8), ["BUILD is accepted only on a dict (got None)"])
    }

    @Test func stackGlobalIsCheckedToo() {
        // Protocol 4: SHORT_BINUNICODE 'posix', SHORT_BINUNICODE 'system', STACK_GLOBAL.
        let bytes: [UInt8] = [0x80, 0x04, 0x8C, 5] + Array("posix".utf8) + [0x8C, 6] + Array("system".utf8) + [0x93, 0x2E]
        expectRefused(bytes, ["byte 17", "forbidden global posix.system"])
    }

    @Test func viewsOutsideTheirStorageAreRefused() {
        #expect(StoredTensor.viewProblem(shape: [2, 3], strides: [3, 1], storageOffset: 0, storageElements: 6) == nil)
        #expect(StoredTensor.viewProblem(shape: [3, 2], strides: [1, 3], storageOffset: 0, storageElements: 6) == nil)
        #expect(StoredTensor.viewProblem(shape: [2, 3], strides: [3, 1], storageOffset: 1, storageElements: 6)?
            .contains("reaches element 6 of a storage of 6 elements") == true)
        #expect(StoredTensor.viewProblem(shape: [0, 5], strides: [5, 1], storageOffset: 99, storageElements: 0) == nil)
        #expect(StoredTensor.viewProblem(shape: [2], strides: [-1], storageOffset: 1, storageElements: 2)?
            .contains("negative") == true)
        #expect(StoredTensor.viewProblem(shape: [Int.max, 2], strides: [2, 1], storageOffset: 0, storageElements: 8)?
            .contains("overflows") == true)
        #expect(StoredTensor.viewProblem(shape: [2, 2], strides: [Int.max, 1], storageOffset: 0, storageElements: 8)?
            .contains("overflows") == true)
        #expect(StoredTensor.viewProblem(shape: [2], strides: [1, 1], storageOffset: 0, storageElements: 8)?
            .contains("differ in length") == true)
    }
}
