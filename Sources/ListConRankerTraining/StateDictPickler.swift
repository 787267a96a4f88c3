import Foundation

/// Writes the pickle (`data.pkl`) of a PyTorch state dict as `torch.save` does with pickle
/// protocol 2: a `collections.OrderedDict` made by REDUCE and filled by SETITEMS, each tensor a
/// REDUCE of `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`
/// whose storage comes through BINPERSID as `('storage', torch.FloatStorage, key, 'cpu', numel)`,
/// then a BUILD that sets the dict's `_metadata` (each module's `{'version': 1}`).
/// Memoisation is left out: it only shortens the pickle.
struct StateDictPickler {
    private(set) var bytes = Data([0x80, 2])   // PROTO 2

    /// One tensor: its key, shape and storage key (`data/<storageKey>` in the archive).
    struct TensorRecord {
        let name: String
        let shape: [Int]
        let storageKey: String
    }

    /// The whole pickle for `tensors` (in order) and module `versions` (the `_metadata` keys).
    static func pickle(tensors: [TensorRecord], modules: [String]) -> Data {
        var p = StateDictPickler()
        p.global("collections", "OrderedDict")
        p.op(")")
        p.op("R")
        p.op("(")
        for tensor in tensors {
            p.string(tensor.name)
            p.rebuildTensor(tensor)
        }
        p.op("u")                                  // SETITEMS
        p.op("}")                                  // the OrderedDict's state: {'_metadata': …}
        p.string("_metadata")
        p.global("collections", "OrderedDict")
        p.op(")")
        p.op("R")
        p.op("(")
        for module in modules {
            p.string(module)
            p.op("}")
            p.string("version")
            p.int(1)
            p.op("s")                              // SETITEM
        }
        p.op("u")
        p.op("s")
        p.op("b")                                  // BUILD
        p.op(".")                                  // STOP
        return p.bytes
    }

    private mutating func rebuildTensor(_ tensor: TensorRecord) {
        let count = tensor.shape.reduce(1, *)
        var strides = [Int](repeating: 1, count: tensor.shape.count)
        for d in stride(from: tensor.shape.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * tensor.shape[d + 1] }
        global("torch._utils", "_rebuild_tensor_v2")
        op("(")
        op("(")                                    // persistent id: ('storage', type, key, 'cpu', numel)
        string("storage")
        global("torch", "FloatStorage")
        string(tensor.storageKey)
        string("cpu")
        int(count)
        op("t")
        op("Q")                                    // BINPERSID
        int(0)                                     // storage offset
        tuple(tensor.shape)
        tuple(strides)
        bytes.append(0x89)                         // NEWFALSE: requires_grad
        global("collections", "OrderedDict")       // backward hooks: OrderedDict()
        op(")")
        op("R")
        op("t")
        op("R")
    }

    private mutating func op(_ code: Character) { bytes.append(code.asciiValue ?? 0) }

    private mutating func global(_ module: String, _ name: String) {
        op("c")
        bytes.append(Data("\(module)\n\(name)\n".utf8))
    }

    private mutating func string(_ value: String) {
        let utf8 = Data(value.utf8)
        op("X")                                    // BINUNICODE
        bytes.appendLittleEndian(UInt32(utf8.count))
        bytes.append(utf8)
    }

    private mutating func int(_ value: Int) {
        switch value {
        case 0...0xFF:
            op("K")
            bytes.append(UInt8(value))
        case 0...0xFFFF:
            op("M")
            bytes.appendLittleEndian(UInt16(value))
        case Int(Int32.min)...Int(Int32.max):
            op("J")
            bytes.appendLittleEndian(Int32(value))
        default:
            bytes.append(0x8A)                     // LONG1: 8-byte two's complement
            bytes.append(8)
            bytes.appendLittleEndian(Int64(value))
        }
    }

    private mutating func tuple(_ values: [Int]) {
        switch values.count {
        case 0: op(")")
        case 1...3:
            for value in values { int(value) }
            bytes.append(0x84 + UInt8(values.count))   // TUPLE1, TUPLE2, TUPLE3
        default:
            op("(")
            for value in values { int(value) }
            op("t")
        }
    }
}
