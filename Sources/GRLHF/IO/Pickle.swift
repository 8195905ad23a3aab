import Foundation

/// A restricted unpickler: the subset of Python's pickle machine (protocols 2 to 4) that
/// `torch.save` uses for state dicts. It never calls anything: the only "callables" are a fixed
/// allow-list of globals (`collections.OrderedDict`, torch's tensor and parameter rebuilders,
/// `torch.*Storage` tags), each interpreted here as data. Any other global is refused by name,
/// any other opcode is refused with its offset.
///
/// Containers are reference types, as in Python, so memoized dicts and lists stay shared. A
/// container that has been placed inside another value is frozen: changing it afterwards is an
/// error. Pickles of acyclic data (every state dict) always fill a container before using it,
/// and the rule makes cycles, and so leaks and unbounded recursion, impossible. Nesting is
/// bounded by `maxHeight`.
struct PickleMachine {
    static let maxStack = 1 << 20
    static let maxMemo = 1 << 22
    static let maxMarks = 1 << 16
    /// Deepest nesting of tuples, lists and dicts; a state dict needs 3 or 4.
    static let maxHeight = 64
    /// Longest `module\nname\n` line of a GLOBAL opcode.
    static let maxGlobalLine = 1024

    /// Python's names for every pickle opcode, so that a refused one is named in the error.
    static let opcodeNames: [UInt8: String] = [
        0x28: "MARK", 0x29: "EMPTY_TUPLE", 0x2E: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP",
        0x42: "BINBYTES", 0x43: "SHORT_BINBYTES", 0x46: "FLOAT", 0x47: "BINFLOAT", 0x49: "INT",
        0x4A: "BININT", 0x4B: "BININT1", 0x4C: "LONG", 0x4D: "BININT2", 0x4E: "NONE", 0x50: "PERSID",
        0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
        0x56: "UNICODE", 0x58: "BINUNICODE", 0x5D: "EMPTY_LIST", 0x61: "APPEND", 0x62: "BUILD",
        0x63: "GLOBAL", 0x64: "DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET", 0x69: "INST",
        0x6A: "LONG_BINGET", 0x6C: "LIST", 0x6F: "OBJ", 0x70: "PUT", 0x71: "BINPUT", 0x72: "LONG_BINPUT",
        0x73: "SETITEM", 0x74: "TUPLE", 0x75: "SETITEMS", 0x7D: "EMPTY_DICT", 0x80: "PROTO", 0x81: "NEWOBJ",
        0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1", 0x86: "TUPLE2", 0x87: "TUPLE3",
        0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8A: "LONG1", 0x8B: "LONG4", 0x8C: "SHORT_BINUNICODE",
        0x8D: "BINUNICODE8", 0x8E: "BINBYTES8", 0x8F: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET",
        0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME", 0x96: "BYTEARRAY8",
        0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
    ]

    let bytes: UnsafeRawBufferPointer
    /// Where the next opcode is; after `load` returns, the byte after STOP.
    var position: Int
    /// Storages named by persistent ids, in order of first appearance; kept across `load`s.
    var storages: [PickleStorage] = []
    var storageIndex: [String: Int] = [:]

    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [UInt32: PickleValue] = [:]
    private var opcodeOffset = 0

    init(_ bytes: UnsafeRawBufferPointer, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    /// Runs one pickle from `position` to its STOP and returns its value.
    mutating func load() throws -> PickleValue {
        stack = []
        marks = []
        memo = [:]
        while true {
            opcodeOffset = position
            let op = try u8()
            switch op {
            case 0x80:  // PROTO
                let version = try u8()
                guard version >= 2 && version <= 5 else { throw malformed("pickle protocol \(version) (2 to 5 are read)") }
            case 0x95:  // FRAME: a length prefix that only helps buffering
                let length = try u64()
                guard length <= UInt64(bytes.count - position) else { throw PyTorchCheckpointError.pickleTruncated(offset: opcodeOffset) }
            case UInt8(ascii: "."):  // STOP
                guard marks.isEmpty, stack.count == 1 else {
                    throw malformed("STOP with \(stack.count) values and \(marks.count) marks on the stack")
                }
                return stack[0]
            case UInt8(ascii: "("):  // MARK
                guard marks.count < Self.maxMarks else { throw limit("marks", Self.maxMarks) }
                marks.append(stack.count)
            case UInt8(ascii: "0"): _ = try pop()  // POP
            case UInt8(ascii: "1"): _ = try popToMark()  // POP_MARK
            case UInt8(ascii: "2"): try push(try top())  // DUP
            case UInt8(ascii: "N"): try push(.none)
            case 0x88: try push(.bool(true))
            case 0x89: try push(.bool(false))
            case UInt8(ascii: "J"): try push(.int(Int(Int32(bitPattern: try u32()))))  // BININT
            case UInt8(ascii: "K"): try push(.int(Int(try u8())))  // BININT1
            case UInt8(ascii: "M"): try push(.int(Int(try u16())))  // BININT2
            case 0x8A:  // LONG1: n bytes of little-endian two's complement
                let n = Int(try u8())
                let raw = try take(n)
                if n <= 8 {
                    var value: UInt64 = 0
                    for k in 0 ..< n { value |= UInt64(raw[k]) << (8 * k) }
                    if n > 0 && n < 8 && raw[n - 1] & 0x80 != 0 { value |= ~0 << (8 * n) }  // sign-extend
                    try push(.int(Int(Int64(bitPattern: value))))
                } else {
                    try push(.bigInt(Array(raw)))
                }
            case UInt8(ascii: "G"):  // BINFLOAT, big-endian
                try push(.float(Double(bitPattern: UInt64(bigEndian: try take(8).loadUnaligned(as: UInt64.self)))))
            case UInt8(ascii: "X"): try push(.string(try text(Int(try u32()))))  // BINUNICODE
            case 0x8C: try push(.string(try text(Int(try u8()))))  // SHORT_BINUNICODE
            case 0x8D: try push(.string(try text(try length64())))  // BINUNICODE8
            case UInt8(ascii: "T"):  // BINSTRING (a Python 2 str, signed length)
                let n = Int32(bitPattern: try u32())
                guard n >= 0 else { throw malformed("negative BINSTRING length \(n)") }
                try push(.string(try text(Int(n))))
            case UInt8(ascii: "U"): try push(.string(try text(Int(try u8()))))  // SHORT_BINSTRING
            case UInt8(ascii: "B"): try push(.bytes(Array(try take(Int(try u32())))))  // BINBYTES
            case UInt8(ascii: "C"): try push(.bytes(Array(try take(Int(try u8())))))  // SHORT_BINBYTES
            case 0x8E: try push(.bytes(Array(try take(try length64()))))  // BINBYTES8
            case UInt8(ascii: ")"): try push(.tuple([], height: 1))
            case UInt8(ascii: "t"): try push(tuple(try popToMark()))
            case 0x85: try push(tuple([try pop()]))
            case 0x86:
                let b = try pop(), a = try pop()
                try push(tuple([a, b]))
            case 0x87:
                let c = try pop(), b = try pop(), a = try pop()
                try push(tuple([a, b, c]))
            case UInt8(ascii: "]"): try push(.list(PickleList()))
            case UInt8(ascii: "}"): try push(.dict(PickleDict()))
            case UInt8(ascii: "a"):  // APPEND
                let value = try pop()
                try append([value], to: try top())
            case UInt8(ascii: "e"):  // APPENDS
                let values = try popToMark()
                try append(values, to: try top())
            case UInt8(ascii: "s"):  // SETITEM
                let value = try pop(), key = try pop()
                try setItems([key, value], in: try top())
            case UInt8(ascii: "u"):  // SETITEMS
                let items = try popToMark()
                guard items.count % 2 == 0 else { throw malformed("SETITEMS with an odd number of values") }
                try setItems(items, in: try top())
            case UInt8(ascii: "q"): try memoize(UInt32(try u8()))  // BINPUT
            case UInt8(ascii: "r"): try memoize(try u32())  // LONG_BINPUT
            case 0x94: try memoize(UInt32(truncatingIfNeeded: memo.count))  // MEMOIZE
            case UInt8(ascii: "h"): try recall(UInt32(try u8()))  // BINGET
            case UInt8(ascii: "j"): try recall(try u32())  // LONG_BINGET
            case UInt8(ascii: "c"):  // GLOBAL: "module\nname\n"
                let module = try line(), name = try line()
                try push(.global(try PickleGlobal(module: module, name: name)))
            case 0x93:  // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard case .string(let m) = module, case .string(let n) = name else {
                    throw malformed("STACK_GLOBAL needs two strings, found \(module.typeName) and \(name.typeName)")
                }
                try push(.global(try PickleGlobal(module: m, name: n)))
            case UInt8(ascii: "Q"): try push(try persistentLoad(try pop()))  // BINPERSID
            case UInt8(ascii: "R"):  // REDUCE
                let args = try pop(), callable = try pop()
                try push(try reduce(callable, args))
            case UInt8(ascii: "b"):  // BUILD
                let state = try pop()
                try build(try top(), state: state)
            default:
                throw PyTorchCheckpointError.unknownOpcode(opcode: op, offset: opcodeOffset)
            }
        }
    }

    // MARK: Bytes

    private mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n <= bytes.count - position else { throw PyTorchCheckpointError.pickleTruncated(offset: opcodeOffset) }
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: bytes[position ..< position + n])
    }

    private mutating func u8() throws -> UInt8 { try take(1)[0] }
    private mutating func u16() throws -> UInt16 { UInt16(littleEndian: try take(2).loadUnaligned(as: UInt16.self)) }
    private mutating func u32() throws -> UInt32 { UInt32(littleEndian: try take(4).loadUnaligned(as: UInt32.self)) }
    private mutating func u64() throws -> UInt64 { UInt64(littleEndian: try take(8).loadUnaligned(as: UInt64.self)) }

    /// A 64-bit length, which must fit in the bytes left.
    private mutating func length64() throws -> Int {
        let n = try u64()
        guard n <= UInt64(bytes.count - position) else { throw PyTorchCheckpointError.pickleTruncated(offset: opcodeOffset) }
        return Int(n)
    }

    private mutating func text(_ n: Int) throws -> String {
        let raw = try take(n)
        guard let s = String(validating: raw.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw malformed("string is not valid UTF-8")
        }
        return s
    }

    /// One newline-terminated line of a GLOBAL opcode.
    private mutating func line() throws -> String {
        let start = position
        let stop = min(bytes.count, start + Self.maxGlobalLine)
        var end = start
        while end < stop && bytes[end] != 0x0A { end += 1 }
        guard end < stop else {
            if stop == bytes.count { throw PyTorchCheckpointError.pickleTruncated(offset: opcodeOffset) }
            throw limit("GLOBAL name bytes", Self.maxGlobalLine)
        }
        position = end + 1
        guard let s = String(validating: UnsafeRawBufferPointer(rebasing: bytes[start ..< end]).bindMemory(to: UInt8.self),
                             as: UTF8.self) else { throw malformed("GLOBAL name is not valid UTF-8") }
        return s
    }

    // MARK: Stack and memo

    private func malformed(_ reason: String) -> PyTorchCheckpointError {
        .malformedPickle(reason: reason, offset: opcodeOffset)
    }

    private func limit(_ what: String, _ value: Int) -> PyTorchCheckpointError {
        .pickleLimit(what: what, limit: value, offset: opcodeOffset)
    }

    private mutating func push(_ value: PickleValue) throws {
        guard stack.count < Self.maxStack else { throw limit("stack entries", Self.maxStack) }
        stack.append(value)
    }

    /// The top value, which must lie above the innermost MARK (as in CPython's unpickler).
    private func top() throws -> PickleValue {
        guard let last = stack.last, stack.count > (marks.last ?? 0) else { throw malformed("stack underflow") }
        return last
    }

    private mutating func pop() throws -> PickleValue {
        let value = try top()
        stack.removeLast()
        return value
    }

    private mutating func popToMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw malformed("no MARK to pop to") }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    private mutating func memoize(_ index: UInt32) throws {
        let value = try top()
        guard memo.count < Self.maxMemo || memo[index] != nil else { throw limit("memo entries", Self.maxMemo) }
        memo[index] = value
    }

    private mutating func recall(_ index: UInt32) throws {
        guard let value = memo[index] else { throw PyTorchCheckpointError.undefinedMemo(index: index, offset: opcodeOffset) }
        try push(value)
    }

    // MARK: Containers

    /// Marks `value` as used inside another value (so it can no longer change) and returns its height.
    private func embed(_ value: PickleValue) -> Int {
        switch value {
        case .list(let l): l.frozen = true; return l.height
        case .dict(let d): d.frozen = true; return d.height
        case .tuple(_, let height): return height
        default: return 0
        }
    }

    private func tuple(_ items: [PickleValue]) throws -> PickleValue {
        let height = 1 + (items.map(embed).max() ?? 0)
        guard height <= Self.maxHeight else { throw limit("nesting levels", Self.maxHeight) }
        return .tuple(items, height: height)
    }

    /// The height a container of `height` reaches by holding `values`, which are frozen first, so
    /// that a container inserted into itself is found frozen by `isFrozen`.
    private func grow(_ height: Int, by values: [PickleValue], isFrozen: () -> Bool, kind: String) throws -> Int {
        let needed = 1 + (values.map(embed).max() ?? 0)
        guard !isFrozen() else { throw malformed("\(kind) changed after it was used (recursive structures are not state dicts)") }
        guard needed <= Self.maxHeight else { throw limit("nesting levels", Self.maxHeight) }
        return max(height, needed)
    }

    private func append(_ values: [PickleValue], to target: PickleValue) throws {
        guard case .list(let list) = target else { throw malformed("APPEND to \(target.typeName)") }
        list.height = try grow(list.height, by: values, isFrozen: { list.frozen }, kind: "list")
        list.items.append(contentsOf: values)
    }

    private func setItems(_ items: [PickleValue], in target: PickleValue) throws {
        guard case .dict(let dict) = target else { throw malformed("SETITEM on \(target.typeName)") }
        dict.height = try grow(dict.height, by: items, isFrozen: { dict.frozen }, kind: "dict")
        for k in stride(from: 0, to: items.count, by: 2) { dict.set(items[k], items[k + 1]) }
    }

    // MARK: The allow-list, interpreted

    /// `persistent_load` of torch's pickler: `('storage', torch.<T>Storage, key, location, numel)`,
    /// plus a sixth `None` (view metadata) in the legacy format.
    private mutating func persistentLoad(_ pid: PickleValue) throws -> PickleValue {
        guard case .tuple(let f, _) = pid, f.count == 5 || f.count == 6, case .string("storage") = f[0] else {
            throw malformed("persistent id is not ('storage', type, key, location, numel)")
        }
        guard case .global(.storage(let dtype)) = f[1] else { throw malformed("persistent id storage type is \(f[1].typeName)") }
        guard case .string(let key) = f[2], case .string = f[3], case .int(let numel) = f[4] else {
            throw malformed("persistent id of storage has a bad key, location or size")
        }
        guard numel >= 0, numel <= Int.max / 8 else { throw PyTorchCheckpointError.invalidStorageSize(key: key, numel: numel) }
        if f.count == 6 {
            guard case .none = f[5] else {
                throw PyTorchCheckpointError.unsupported("storage \(key) is a view of another storage (pre-1.0 torch)")
            }
        }
        if let i = storageIndex[key] {
            guard storages[i].dtype == dtype, storages[i].numel == numel else {
                throw PyTorchCheckpointError.inconsistentStorage(key: key)
            }
            return .storage(i)
        }
        storageIndex[key] = storages.count
        storages.append(PickleStorage(key: key, dtype: dtype, numel: numel))
        return .storage(storages.count - 1)
    }

    private func reduce(_ callable: PickleValue, _ argsValue: PickleValue) throws -> PickleValue {
        guard case .global(let global) = callable else { throw malformed("REDUCE calls \(callable.typeName)") }
        guard case .tuple(let args, _) = argsValue else { throw malformed("REDUCE arguments are \(argsValue.typeName)") }
        switch global {
        case .orderedDict:
            guard args.isEmpty else { throw malformed("OrderedDict called with \(args.count) arguments") }
            return .dict(PickleDict())
        case .rebuildTensorV2, .rebuildTensor:
            // v2: (storage, offset, size, stride, requires_grad, backward_hooks[, metadata]); v1: the first four.
            let counts = global == .rebuildTensor ? [4] : [6, 7]
            guard counts.contains(args.count) else { throw malformed("\(global.name) called with \(args.count) arguments") }
            return .tensor(try rebuildTensor(args))
        case .rebuildParameter, .rebuildParameterWithState:
            // (data, requires_grad, backward_hooks[, state]): the data is the tensor.
            guard args.count == (global == .rebuildParameter ? 3 : 4), case .tensor = args[0] else {
                throw malformed("\(global.name) needs a tensor and \(global == .rebuildParameter ? 2 : 3) more arguments")
            }
            return args[0]
        case .storage:
            throw malformed("\(global.name) is only accepted as the type in a persistent id")
        }
    }

    private func rebuildTensor(_ args: [PickleValue]) throws -> PickleTensor {
        guard case .storage(let index) = args[0] else { throw malformed("tensor storage is \(args[0].typeName)") }
        guard case .int(let offset) = args[1] else { throw malformed("tensor storage offset is \(args[1].typeName)") }
        func ints(_ v: PickleValue, _ what: String) throws -> [Int] {
            guard case .tuple(let items, _) = v else { throw malformed("tensor \(what) is \(v.typeName)") }
            return try items.map {
                guard case .int(let i) = $0 else { throw malformed("tensor \(what) holds \($0.typeName)") }
                return i
            }
        }
        let size = try ints(args[2], "size"), stride = try ints(args[3], "stride")
        let storage = storages[index]
        let key = storage.key
        guard size.count == stride.count else {
            throw PyTorchCheckpointError.invalidTensor(storage: key, reason: "size \(size) and stride \(stride) differ in rank")
        }
        guard size.count <= Safetensors.maxRank else {
            throw PyTorchCheckpointError.invalidTensor(storage: key, reason: "\(size.count) dimensions (at most \(Safetensors.maxRank))")
        }
        guard size.allSatisfy({ $0 >= 0 }) else { throw PyTorchCheckpointError.negativeSize(storage: key, size: size) }
        guard stride.allSatisfy({ $0 >= 0 }) else {
            throw PyTorchCheckpointError.invalidTensor(storage: key, reason: "negative stride \(stride)")
        }
        guard offset >= 0, offset <= storage.numel else {
            throw PyTorchCheckpointError.offsetOutOfRange(storage: key, offset: offset, storageElements: storage.numel)
        }
        var count = 1
        var last = offset  // the storage element the view reaches furthest
        for (n, s) in zip(size, stride) {
            let (c, o1) = count.multipliedReportingOverflow(by: n)
            guard !o1 else { throw PyTorchCheckpointError.invalidTensor(storage: key, reason: "element count of size \(size) overflows") }
            count = c
            guard n > 0 else { continue }
            let (reach, o2) = (n - 1).multipliedReportingOverflow(by: s)
            let (sum, o3) = last.addingReportingOverflow(reach)
            guard !o2, !o3 else { throw PyTorchCheckpointError.invalidTensor(storage: key, reason: "extent of size \(size) stride \(stride) overflows") }
            last = sum
        }
        if count > 0 {
            guard last < storage.numel else {
                throw PyTorchCheckpointError.viewOutOfRange(storage: key, reaches: last + 1, storageElements: storage.numel)
            }
        }
        return PickleTensor(storage: index, offset: offset, size: size, stride: stride, count: count)
    }

    private func build(_ target: PickleValue, state: PickleValue) throws {
        // torch pickles a state dict as an OrderedDict whose attributes (`_metadata`: per-module
        // versions) come as BUILD state; the attributes are not weights and are dropped.
        guard case .dict = target else { throw malformed("BUILD on \(target.typeName)") }
        switch state {
        case .none: break
        case .dict: _ = embed(state)
        default: throw malformed("BUILD state is \(state.typeName)")
        }
    }
}

/// A value of the restricted unpickler.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer wider than 64 bits, as its little-endian two's-complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    /// Items and the nesting height (1 for a tuple of scalars).
    case tuple([PickleValue], height: Int)
    case list(PickleList)
    case dict(PickleDict)
    case global(PickleGlobal)
    /// An index into `PickleMachine.storages`.
    case storage(Int)
    case tensor(PickleTensor)

    var typeName: String {
        switch self {
        case .none: return "None"
        case .bool: return "a bool"
        case .int, .bigInt: return "an int"
        case .float: return "a float"
        case .string: return "a string"
        case .bytes: return "bytes"
        case .tuple(let items, _): return "a \(items.count)-tuple"
        case .list: return "a list"
        case .dict: return "a dict"
        case .global(let g): return g.name
        case .storage: return "a storage"
        case .tensor: return "a tensor"
        }
    }
}

final class PickleList {
    var items: [PickleValue] = []
    var height = 1
    var frozen = false
}

/// A dict in insertion order; a repeated string key replaces the value, as in Python.
final class PickleDict {
    private(set) var entries: [(key: PickleValue, value: PickleValue)] = []
    private var index: [String: Int] = [:]
    var height = 1
    var frozen = false

    func set(_ key: PickleValue, _ value: PickleValue) {
        if case .string(let s) = key {
            if let i = index[s] { entries[i].value = value; return }
            index[s] = entries.count
        }
        entries.append((key, value))
    }

    subscript(key: String) -> PickleValue? { index[key].map { entries[$0].value } }
}

/// The only globals a checkpoint may name.
enum PickleGlobal: Equatable {
    case orderedDict, rebuildTensorV2, rebuildTensor, rebuildParameter, rebuildParameterWithState
    /// `torch.FloatStorage` and friends: only a tag inside a persistent id.
    case storage(TorchDType)

    init(module: String, name: String) throws {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_tensor"): self = .rebuildTensor
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): self = .rebuildParameterWithState
        case ("torch", _) where name.hasSuffix("Storage") && !name.isEmpty:
            guard let dtype = TorchDType(storageName: name) else {
                throw PyTorchCheckpointError.unsupported("storage type torch.\(name) (float32/16/64, bfloat16, int8-64, uint8, bool are read)")
            }
            self = .storage(dtype)
        default:
            throw PyTorchCheckpointError.refusedGlobal("\(module).\(name)")
        }
    }

    var name: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
        case .rebuildTensor: return "torch._utils._rebuild_tensor"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: return "torch._utils._rebuild_parameter_with_state"
        case .storage(let d): return "torch.\(d.storageName)"
        }
    }
}

/// Element types of the storages that are read, each converted to Float32 on load.
enum TorchDType: CaseIterable, Equatable {
    case float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool

    static let byStorageName = Dictionary(uniqueKeysWithValues: allCases.map { ($0.storageName, $0) })

    init?(storageName: String) {
        guard let d = Self.byStorageName[storageName] else { return nil }
        self = d
    }

    var storageName: String {
        switch self {
        case .float32: return "FloatStorage"
        case .float64: return "DoubleStorage"
        case .float16: return "HalfStorage"
        case .bfloat16: return "BFloat16Storage"
        case .int64: return "LongStorage"
        case .int32: return "IntStorage"
        case .int16: return "ShortStorage"
        case .int8: return "CharStorage"
        case .uint8: return "ByteStorage"
        case .bool: return "BoolStorage"
        }
    }

    var itemSize: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }
}

/// A storage named by a persistent id: its key (the zip entry `data/<key>`, or the legacy key).
struct PickleStorage {
    let key: String
    let dtype: TorchDType
    let numel: Int
}

/// A validated view of a storage: every element it reaches lies inside the storage.
struct PickleTensor {
    let storage: Int
    let offset: Int
    let size: [Int]
    let stride: [Int]
    let count: Int
}
