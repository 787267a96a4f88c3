import Foundation
import ListConRankerTensor

/// A storage a pickled tensor refers to: `data/<key>` in the archive, `count` elements of
/// the type `torch.<typeName>` (`FloatStorage`, `HalfStorage`, …).
struct PickledStorage: Equatable {
    let typeName: String
    let key: String
    let count: Int
}

/// A tensor as `torch._utils._rebuild_tensor_v2` describes it: a view of a storage.
struct PickledTensor: Equatable {
    let storage: PickledStorage
    let storageOffset: Int
    let size: [Int]
    let stride: [Int]
}

/// A value on the unpickler's stack. Dicts and lists are reference types because pickle
/// mutates them after creation (SETITEMS, APPENDS) while the memo may also hold them.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case tuple([PickleValue], depth: Int)
    case list(PickleContainer)
    case dict(PickleContainer)
    case global(AllowedGlobal)
    case storage(PickledStorage)
    case tensor(PickledTensor)

    /// Nesting depth: 0 for a scalar, 1 + the deepest element for a container.
    var depth: Int {
        switch self {
        case .tuple(_, let depth): return depth
        case .list(let container), .dict(let container): return container.depth
        default: return 0
        }
    }

    /// A short name of the value's kind, for error messages.
    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .global(let global): return global.qualifiedName
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

/// A dict (key/value pairs, in insertion order) or a list (values only) being unpickled.
///
/// A container freezes once it is placed inside another value; changing a frozen one is
/// refused. `torch.save` never does that, and the rule makes cycles impossible and keeps
/// the recorded depth exact (deep structures would overflow the stack when freed).
final class PickleContainer {
    private(set) var keys: [PickleValue] = []
    private(set) var values: [PickleValue] = []
    private(set) var depth = 1
    private(set) var isFrozen = false

    func freeze() { isFrozen = true }

    /// Appends values (and, for a dict, keys); the caller has frozen them and checked this
    /// container is not frozen.
    func append(key: PickleValue?, value: PickleValue) {
        if let key {
            keys.append(key)
            depth = max(depth, key.depth + 1)
        }
        values.append(value)
        depth = max(depth, value.depth + 1)
    }
}

/// The only globals a state dict needs. Anything else a pickle names is refused.
enum AllowedGlobal: Equatable {
    case orderedDict
    case rebuildTensorV2
    case rebuildParameter
    case storageType(String)

    /// Storage types whose elements the readers convert, with their element type.
    static let floatStorages: [String: DType] = [
        "FloatStorage": .float32, "HalfStorage": .float16, "BFloat16Storage": .bfloat16,
    ]
    /// Storage types that real checkpoints hold for buffers (e.g. an int64 `position_ids`):
    /// listed, not converted; their element type as safetensors names it, and its size in bytes.
    static let otherStorages: [String: (typeName: String, size: Int)] = [
        "DoubleStorage": ("F64", 8), "LongStorage": ("I64", 8), "IntStorage": ("I32", 4),
        "ShortStorage": ("I16", 2), "CharStorage": ("I8", 1), "ByteStorage": ("U8", 1), "BoolStorage": ("BOOL", 1),
    ]

    init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch", _) where Self.floatStorages[name] != nil || Self.otherStorages[name] != nil:
            self = .storageType(name)
        default: return nil
        }
    }

    var qualifiedName: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case .storageType(let name): return "torch.\(name)"
        }
    }
}

/// A restricted unpickler for the `data.pkl` of a `torch.save` archive.
///
/// It executes nothing: it understands the opcodes `torch.save` emits (pickle protocol 2,
/// and the FRAME/MEMOIZE/SHORT_BINUNICODE/STACK_GLOBAL of protocols 4–5 written with
/// `pickle_protocol=4`), builds dicts, tuples and tensor descriptions, and refuses any other
/// opcode or global with an error naming the file, the opcode or global, and the byte offset.
struct StateDictUnpickler {
    /// Deepest nesting accepted (a state dict needs about 4).
    static let maximumDepth = 64

    private let bytes: UnsafeRawBufferPointer
    private let url: URL
    private let member: String
    private var position = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    /// Prepares to read `bytes`, the archive member `member` of the file `url`.
    init(bytes: UnsafeRawBufferPointer, url: URL, member: String) {
        self.bytes = bytes
        self.url = url
        self.member = member
    }

    private func fail(_ problem: String, at offset: Int) -> CheckpointError {
        CheckpointError(file: url, "\(member) byte \(offset): \(problem)")
    }

    /// Runs the pickle to its STOP and returns the value it built.
    mutating func load() throws -> PickleValue {
        while true {
            let start = position
            guard let opcode = bytes.littleEndian(UInt8.self, at: position) else {
                throw fail("pickle ends without STOP (truncated?)", at: start)
            }
            position += 1
            switch opcode {
            case 0x80: // PROTO
                let version = try readInteger(UInt8.self, start)
                guard (2...5).contains(version) else {
                    throw fail("unsupported pickle protocol \(version)", at: start)
                }
            case 0x95: // FRAME (protocol 4): a length hint only
                _ = try readInteger(UInt64.self, start)
            case UInt8(ascii: "."): // STOP
                guard let result = stack.last else { throw fail("STOP with an empty stack", at: start) }
                return result
            case UInt8(ascii: "("): // MARK
                marks.append(stack.count)
            case UInt8(ascii: "}"): stack.append(.dict(PickleContainer()))
            case UInt8(ascii: "]"): stack.append(.list(PickleContainer()))
            case UInt8(ascii: ")"): stack.append(.tuple([], depth: 1))
            case UInt8(ascii: "N"): stack.append(.none)
            case 0x88: stack.append(.bool(true))  // NEWTRUE
            case 0x89: stack.append(.bool(false)) // NEWFALSE
            case UInt8(ascii: "K"): // BININT1
                stack.append(.int(Int(try readInteger(UInt8.self, start))))
            case UInt8(ascii: "M"): // BININT2
                stack.append(.int(Int(try readInteger(UInt16.self, start))))
            case UInt8(ascii: "J"): // BININT
                stack.append(.int(Int(Int32(bitPattern: try readInteger(UInt32.self, start)))))
            case 0x8A: // LONG1: n-byte little-endian two's complement
                let length = Int(try readInteger(UInt8.self, start))
                stack.append(.int(try readLong(length: length, start)))
            case UInt8(ascii: "G"): // BINFLOAT (big-endian)
                let raw = try readInteger(UInt64.self, start)
                stack.append(.float(Double(bitPattern: UInt64(bigEndian: raw))))
            case UInt8(ascii: "X"): // BINUNICODE
                let length = Int(try readInteger(UInt32.self, start))
                stack.append(.string(try readString(length: length, start)))
            case 0x8C: // SHORT_BINUNICODE
                let length = Int(try readInteger(UInt8.self, start))
                stack.append(.string(try readString(length: length, start)))
            case 0x8D: // BINUNICODE8
                guard let length = Checked.int(try readInteger(UInt64.self, start)) else {
                    throw fail("string length out of range", at: start)
                }
                stack.append(.string(try readString(length: length, start)))
            case UInt8(ascii: "q"): // BINPUT
                memo[Int(try readInteger(UInt8.self, start))] = try top(start)
            case UInt8(ascii: "r"): // LONG_BINPUT
                memo[Int(try readInteger(UInt32.self, start))] = try top(start)
            case 0x94: // MEMOIZE
                memo[memo.count] = try top(start)
            case UInt8(ascii: "h"): // BINGET
                try pushMemo(Int(try readInteger(UInt8.self, start)), start)
            case UInt8(ascii: "j"): // LONG_BINGET
                try pushMemo(Int(try readInteger(UInt32.self, start)), start)
            case UInt8(ascii: "c"): // GLOBAL: "module\nname\n"
                let module = try readLine(start)
                let name = try readLine(start)
                stack.append(.global(try allowedGlobal(module: module, name: name, start)))
            case 0x93: // STACK_GLOBAL
                let name = try pop(start), module = try pop(start)
                guard case .string(let moduleName) = module, case .string(let globalName) = name else {
                    throw fail("STACK_GLOBAL needs two strings, got \(module.kind) and \(name.kind)", at: start)
                }
                stack.append(.global(try allowedGlobal(module: moduleName, name: globalName, start)))
            case UInt8(ascii: "t"): // TUPLE
                stack.append(try makeTuple(popToMark(start), start))
            case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
                let count = Int(opcode - 0x84)
                guard stack.count - count >= (marks.last ?? 0) else {
                    throw fail("stack underflow building a tuple", at: start)
                }
                let items = Array(stack.suffix(count))
                stack.removeLast(count)
                stack.append(try makeTuple(items, start))
            case UInt8(ascii: "s"): // SETITEM
                let value = try pop(start), key = try pop(start)
                try insert(into: try top(start), pairs: [key, value], start)
            case UInt8(ascii: "u"): // SETITEMS
                let items = try popToMark(start)
                try insert(into: try top(start), pairs: items, start)
            case UInt8(ascii: "a"): // APPEND
                let value = try pop(start)
                try append(to: try top(start), [value], start)
            case UInt8(ascii: "e"): // APPENDS
                let items = try popToMark(start)
                try append(to: try top(start), items, start)
            case UInt8(ascii: "Q"): // BINPERSID
                stack.append(try persistentLoad(pop(start), start))
            case UInt8(ascii: "R"): // REDUCE
                let arguments = try pop(start), callable = try pop(start)
                stack.append(try reduce(callable, arguments, start))
            case UInt8(ascii: "b"): // BUILD: sets an object's state; OrderedDict gets `_metadata`
                let state = try pop(start)
                guard case .dict(let target) = try top(start), !target.isFrozen else {
                    throw fail("BUILD is accepted only on a dict (got \(try top(start).kind))", at: start)
                }
                _ = state // module metadata (`_metadata`): not needed to read tensors
            default:
                throw fail("pickle opcode 0x\(String(opcode, radix: 16)) (\(Self.printable(opcode))) "
                    + "is not accepted in a state dict", at: start)
            }
        }
    }

    // MARK: Reading the byte stream

    private mutating func readInteger<T: FixedWidthInteger & UnsignedInteger>(_: T.Type, _ start: Int) throws -> T {
        guard let value = bytes.littleEndian(T.self, at: position) else {
            throw fail("pickle truncated inside an opcode's argument", at: start)
        }
        position += MemoryLayout<T>.size
        return value
    }

    private mutating func readLong(length: Int, _ start: Int) throws -> Int {
        guard length <= 8 else { throw fail("integer of \(length) bytes is too large", at: start) }
        guard let slice = bytesSlice(length) else { throw fail("pickle truncated inside LONG1", at: start) }
        guard length > 0 else { return 0 }
        var value: UInt64 = 0
        for (index, byte) in slice.enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
        if length < 8, slice[length - 1] & 0x80 != 0 { value |= ~UInt64(0) << (8 * UInt64(length)) } // sign-extend
        return Int(Int64(bitPattern: value))
    }

    private mutating func bytesSlice(_ length: Int) -> UnsafeRawBufferPointer? {
        guard length >= 0, let end = Checked.add(position, length), end <= bytes.count else { return nil }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[position..<end])
        position = end
        return slice
    }

    private mutating func readString(length: Int, _ start: Int) throws -> String {
        guard let slice = bytesSlice(length) else {
            throw fail("string of \(length) bytes runs past the end of the pickle", at: start)
        }
        guard let string = String(validating: slice, as: UTF8.self) else {
            throw fail("string is not valid UTF-8", at: start)
        }
        return string
    }

    private mutating func readLine(_ start: Int) throws -> String {
        let window = bytes[position..<min(bytes.count, position + 257)]
        guard let end = window.firstIndex(of: UInt8(ascii: "\n")) else {
            throw fail("GLOBAL name without a newline", at: start)
        }
        let line = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<end]), as: UTF8.self)
        position = end + 1
        return line
    }

    private static func printable(_ opcode: UInt8) -> String {
        (0x21...0x7E).contains(opcode) ? "'\(Character(Unicode.Scalar(opcode)))'" : "binary"
    }

    // MARK: Stack and memo

    private mutating func pop(_ start: Int) throws -> PickleValue {
        if let mark = marks.last, stack.count <= mark {
            throw fail("stack underflow (pop past a MARK)", at: start)
        }
        guard let value = stack.popLast() else { throw fail("stack underflow", at: start) }
        return value
    }

    private func top(_ start: Int) throws -> PickleValue {
        guard let value = stack.last, stack.count > (marks.last ?? 0) else {
            throw fail("stack underflow", at: start)
        }
        return value
    }

    private mutating func popToMark(_ start: Int) throws -> [PickleValue] {
        guard let mark = marks.popLast(), mark <= stack.count else {
            throw fail("no MARK to pop to", at: start)
        }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private mutating func pushMemo(_ index: Int, _ start: Int) throws {
        guard let value = memo[index] else { throw fail("memo entry \(index) was never stored", at: start) }
        stack.append(value)
    }

    // MARK: Building values

    /// Marks containers among `values` as nested (see ``PickleContainer``) and checks depth.
    private func nest(_ values: [PickleValue], _ start: Int) throws -> Int {
        var depth = 0
        for value in values {
            switch value {
            case .list(let container), .dict(let container): container.freeze()
            default: break
            }
            depth = max(depth, value.depth)
        }
        guard depth < Self.maximumDepth else {
            throw fail("values nested deeper than \(Self.maximumDepth) levels", at: start)
        }
        return depth + 1
    }

    private func makeTuple(_ items: [PickleValue], _ start: Int) throws -> PickleValue {
        .tuple(items, depth: try nest(items, start))
    }

    private func insert(into target: PickleValue, pairs: [PickleValue], _ start: Int) throws {
        guard case .dict(let dict) = target else {
            throw fail("SETITEM(S) on a \(target.kind), not a dict", at: start)
        }
        guard pairs.count % 2 == 0 else { throw fail("SETITEMS with an odd number of items", at: start) }
        _ = try nest(pairs, start)
        guard !dict.isFrozen else { throw fail("changing a dict after nesting it is not supported", at: start) }
        for index in stride(from: 0, to: pairs.count, by: 2) {
            dict.append(key: pairs[index], value: pairs[index + 1])
        }
    }

    private func append(to target: PickleValue, _ items: [PickleValue], _ start: Int) throws {
        guard case .list(let list) = target else {
            throw fail("APPEND(S) on a \(target.kind), not a list", at: start)
        }
        _ = try nest(items, start)
        guard !list.isFrozen else { throw fail("changing a list after nesting it is not supported", at: start) }
        for item in items { list.append(key: nil, value: item) }
    }

    private func allowedGlobal(module: String, name: String, _ start: Int) throws -> AllowedGlobal {
        guard let global = AllowedGlobal(module: module, name: name) else {
            throw fail("forbidden global \(module).\(name): a state dict needs only "
                + "collections.OrderedDict, torch._utils._rebuild_tensor_v2, "
                + "torch._utils._rebuild_parameter and torch.*Storage", at: start)
        }
        return global
    }

    /// BINPERSID: `('storage', torch.<Type>Storage, key, location, numel)`.
    private func persistentLoad(_ id: PickleValue, _ start: Int) throws -> PickleValue {
        guard case .tuple(let fields, _) = id, fields.count == 5,
              case .string("storage") = fields[0],
              case .global(.storageType(let typeName)) = fields[1],
              case .string(let key) = fields[2],
              case .string = fields[3],
              case .int(let count) = fields[4], count >= 0 else {
            throw fail("persistent id is not ('storage', torch.<Type>Storage, key, location, numel)", at: start)
        }
        return .storage(PickledStorage(typeName: typeName, key: key, count: count))
    }

    private func integers(_ value: PickleValue) -> [Int]? {
        guard case .tuple(let items, _) = value else { return nil }
        var result: [Int] = []
        for item in items {
            guard case .int(let number) = item else { return nil }
            result.append(number)
        }
        return result
    }

    private func reduce(_ callable: PickleValue, _ arguments: PickleValue, _ start: Int) throws -> PickleValue {
        guard case .global(let global) = callable else {
            throw fail("REDUCE on a \(callable.kind), not a callable global", at: start)
        }
        guard case .tuple(let args, _) = arguments else {
            throw fail("REDUCE of \(global.qualifiedName) with a \(arguments.kind) of arguments", at: start)
        }
        _ = try nest(args, start)
        switch global {
        case .orderedDict:
            guard args.isEmpty else { throw fail("collections.OrderedDict called with arguments", at: start) }
            return .dict(PickleContainer())
        case .rebuildTensorV2:
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            guard args.count == 6 || args.count == 7,
                  case .storage(let storage) = args[0],
                  case .int(let offset) = args[1],
                  let size = integers(args[2]), let stride = integers(args[3]) else {
                throw fail("torch._utils._rebuild_tensor_v2 called with unexpected arguments", at: start)
            }
            return .tensor(PickledTensor(storage: storage, storageOffset: offset, size: size, stride: stride))
        case .rebuildParameter:
            // (data, requires_grad, backward_hooks)
            guard args.count == 3, case .tensor = args[0] else {
                throw fail("torch._utils._rebuild_parameter called with unexpected arguments", at: start)
            }
            return args[0]
        case .storageType(let name):
            throw fail("torch.\(name) may only appear in a persistent id, not be called", at: start)
        }
    }
}
