import Foundation

// Tensor data is read from the file's bytes as they are; the format (v2, and v3 as written by
// little-endian machines) is little-endian.
#if _endian(big)
#error("GGUF assumes a little-endian host")
#endif

/// A GGUF file (llama.cpp/ggml, versions 2 and 3): typed metadata, tensor infos, and tensor data
/// dequantized to float32 on demand (F32, F16, BF16, Q8_0, Q4_0, Q4_1).
///
/// Layout: magic `GGUF`, u32 version, u64 tensor count, u64 key-value count; each key-value is a
/// string key (u64 length + UTF-8), a u32 value type and the value (arrays: u32 element type, u64
/// count, items); each tensor info is a name, u32 n_dims, u64 ne[n_dims] (ne0 fastest), u32 ggml
/// type and a u64 offset into the data section, which starts at the next multiple of
/// `general.alignment` (default 32).
///
/// Every count, length, type, dimension and offset is hostile: checked arithmetic throughout,
/// nothing allocated from a header value before it is bounded by the bytes present, and each
/// corruption has its own `GGUFError`. A file opened from a path is memory-mapped, so opening it
/// costs no more memory than the pages read.
public final class GGUFFile: @unchecked Sendable {
    /// Default `general.alignment`.
    public static let defaultAlignment = 32
    /// ggml's GGML_MAX_DIMS.
    public static let maxDimensions = 4

    public let version: Int
    /// Key-values in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Byte offset of the data section (tensor offsets are relative to it).
    public let dataOffset: Int
    public let fileSize: Int

    private let bytes: GGUFBytes
    private let keyIndex: [String: Int]
    private let tensorIndex: [String: Int]

    /// Opens and validates `path` (memory-mapped; tensor data is read by `tensor(named:)`).
    public static func open(_ path: String) throws -> GGUFFile {
        try GGUFFile(bytes: GGUFBytes(mapping: path))
    }

    /// Parses and validates a file held in memory.
    public convenience init(bytes: [UInt8]) throws {
        try self.init(bytes: GGUFBytes(copying: bytes))
    }

    private init(bytes: GGUFBytes) throws {
        self.bytes = bytes
        var parser = GGUFParser(bytes.buffer)
        let parsed = try parser.parse()
        version = parsed.version
        metadata = parsed.metadata
        tensors = parsed.tensors
        alignment = parsed.alignment
        dataOffset = parsed.dataOffset
        fileSize = bytes.buffer.count
        keyIndex = Dictionary(metadata.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { a, _ in a })
        tensorIndex = Dictionary(tensors.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public subscript(key: String) -> GGUFValue? { keyIndex[key].map { metadata[$0].value } }

    public func tensorInfo(named name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// The tensor dequantized to float32, row-major with shape `info.shape` (ne reversed).
    public func tensor(named name: String) throws -> Tensor {
        guard let info = tensorInfo(named: name) else { throw GGUFError.missingTensor(name) }
        let out = try GGUFFile.allocate(info)
        try read(info, into: out.data)
        return out
    }

    /// Dequantizes tensor `info` of this file into `destination` (room for `info.elementCount`).
    public func read(_ info: GGUFTensorInfo, into destination: UnsafeMutablePointer<Float>) throws {
        try withBytes(info) { source in
            try GGUFDequantize.run(info.type, name: info.name, source: source, count: info.elementCount, into: destination)
        }
    }

    /// Tensor `info`'s stored bytes (`info.byteCount` of them, in its own type), for `body` only.
    public func withBytes<R>(_ info: GGUFTensorInfo, _ body: (UnsafeRawPointer) throws -> R) throws -> R {
        guard let base = bytes.buffer.baseAddress, tensorIndex[info.name] != nil,
              info.offset <= fileSize - dataOffset, info.byteCount <= fileSize - dataOffset - info.offset else {
            throw GGUFError.missingTensor(info.name)
        }
        return try body(base + dataOffset + info.offset)
    }

    static func allocate(_ info: GGUFTensorInfo) throws -> Tensor {
        let (bytes, overflow) = info.elementCount.multipliedReportingOverflow(by: 4)
        guard !overflow, bytes <= Tensor.maxBytes else {
            throw GGUFError.tensorTooLarge(name: info.name, bytes: overflow ? Int.max : bytes)
        }
        return Tensor(uninitialized: info.shape)
    }

    // MARK: Typed metadata

    /// A metadata value that must be present.
    public func value(_ key: String) throws -> GGUFValue {
        guard let v = self[key] else { throw GGUFError.missingKey(key) }
        return v
    }

    /// An integer value (any integer type, exactly representable as Int), nil when absent.
    public func int(_ key: String) throws -> Int? {
        guard let v = self[key] else { return nil }
        guard let i = v.intValue else { throw GGUFError.wrongKeyType(key: key, expected: "an integer", found: v.typeName) }
        return i
    }

    /// A float or integer value, nil when absent.
    public func double(_ key: String) throws -> Double? {
        guard let v = self[key] else { return nil }
        guard let d = v.doubleValue else { throw GGUFError.wrongKeyType(key: key, expected: "a number", found: v.typeName) }
        return d
    }

    public func string(_ key: String) throws -> String? {
        guard let v = self[key] else { return nil }
        guard case .string(let s) = v else { throw GGUFError.wrongKeyType(key: key, expected: "a string", found: v.typeName) }
        return s
    }

    public func bool(_ key: String) throws -> Bool? {
        guard let v = self[key] else { return nil }
        guard case .bool(let b) = v else { throw GGUFError.wrongKeyType(key: key, expected: "a bool", found: v.typeName) }
        return b
    }

    public func stringArray(_ key: String) throws -> [String]? {
        guard let v = self[key] else { return nil }
        guard case .array(.string, let items) = v else {
            throw GGUFError.wrongKeyType(key: key, expected: "an array of strings", found: v.typeName)
        }
        return items.map { if case .string(let s) = $0 { s } else { "" } }
    }

    public func intArray(_ key: String) throws -> [Int]? {
        guard let v = self[key] else { return nil }
        guard case .array(let type, let items) = v, type != .string, type != .float32, type != .float64,
              type != .bool, type != .array else {
            throw GGUFError.wrongKeyType(key: key, expected: "an array of integers", found: v.typeName)
        }
        return try items.map {
            guard let i = $0.intValue else { throw GGUFError.wrongKeyType(key: key, expected: "an array of integers", found: v.typeName) }
            return i
        }
    }
}

/// GGUF metadata value types (the u32 `gguf_type`).
public enum GGUFValueType: UInt32, Sendable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Bytes of a scalar; the least a string (its length) or array (type and count) takes.
    var minimumSize: Int {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64, .string: return 8
        case .array: return 12
        }
    }
}

/// A metadata value. Arrays keep their element type (an empty array has one too).
public enum GGUFValue: Equatable, Sendable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case float32(Float), bool(Bool), string(String), uint64(UInt64), int64(Int64), float64(Double)
    case array(GGUFValueType, [GGUFValue])

    /// The value as an Int when it is an integer that fits.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// The value as a Double when it is a number.
    public var doubleValue: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return intValue.map(Double.init)
        }
    }

    var typeName: String {
        switch self {
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .uint16: return "uint16"
        case .int16: return "int16"
        case .uint32: return "uint32"
        case .int32: return "int32"
        case .float32: return "float32"
        case .bool: return "bool"
        case .string: return "string"
        case .uint64: return "uint64"
        case .int64: return "int64"
        case .float64: return "float64"
        case .array(let t, let items): return "array of \(items.count) \(t)"
        }
    }
}

/// A ggml tensor type: its id, name, and block geometry (values per block, bytes per block).
public struct GGMLType: Equatable, Sendable, CustomStringConvertible {
    public let id: UInt32
    public let name: String
    public let blockSize: Int
    public let typeSize: Int

    public var description: String { name }

    /// Types grlhf dequantizes.
    public static let f32 = known[0]!, f16 = known[1]!, q4_0 = known[2]!, q4_1 = known[3]!
    public static let q8_0 = known[8]!, bf16 = known[30]!

    public var isSupported: Bool { [0, 1, 2, 3, 8, 30].contains(id) }

    /// Every type of gguf 0.19.0's GGML_QUANT_SIZES, so files with other types still parse and
    /// validate (their tensors are reported as unsupported when read).
    static let known: [UInt32: GGMLType] = {
        let table: [(UInt32, String, Int, Int)] = [
            (0, "F32", 1, 4), (1, "F16", 1, 2), (2, "Q4_0", 32, 18), (3, "Q4_1", 32, 20),
            (6, "Q5_0", 32, 22), (7, "Q5_1", 32, 24), (8, "Q8_0", 32, 34), (9, "Q8_1", 32, 40),
            (10, "Q2_K", 256, 84), (11, "Q3_K", 256, 110), (12, "Q4_K", 256, 144), (13, "Q5_K", 256, 176),
            (14, "Q6_K", 256, 210), (15, "Q8_K", 256, 292), (16, "IQ2_XXS", 256, 66), (17, "IQ2_XS", 256, 74),
            (18, "IQ3_XXS", 256, 98), (19, "IQ1_S", 256, 50), (20, "IQ4_NL", 32, 18), (21, "IQ3_S", 256, 110),
            (22, "IQ2_S", 256, 82), (23, "IQ4_XS", 256, 136), (24, "I8", 1, 1), (25, "I16", 1, 2),
            (26, "I32", 1, 4), (27, "I64", 1, 8), (28, "F64", 1, 8), (29, "IQ1_M", 256, 56),
            (30, "BF16", 1, 2), (34, "TQ1_0", 256, 54), (35, "TQ2_0", 256, 66), (39, "MXFP4", 32, 17),
            (40, "NVFP4", 64, 36), (41, "Q1_0", 128, 18),
        ]
        return Dictionary(uniqueKeysWithValues: table.map { ($0.0, GGMLType(id: $0.0, name: $0.1, blockSize: $0.2, typeSize: $0.3)) })
    }()
}

/// One tensor's info, validated against the file.
public struct GGUFTensorInfo: Sendable {
    public let name: String
    /// ggml's ne: ne[0] moves fastest.
    public let dimensions: [Int]
    public let type: GGMLType
    /// Offset of the data from the start of the data section.
    public let offset: Int
    public let byteCount: Int
    public let elementCount: Int
    /// Row-major shape (ne reversed): a weight with ne = [in, out] is an [out, in] matrix.
    public var shape: [Int] { dimensions.reversed() }
}

/// One kind of corruption per case; `description` names the key or tensor and the values.
public enum GGUFError: Error, Equatable, CustomStringConvertible, GRLHFErrorConvertible {
    /// The file ends inside `what` (the header, a key, a value, a tensor info, the data section).
    case truncated(what: String, offset: Int, fileSize: Int)
    case badMagic([UInt8])
    /// A version other than 2 or 3 (1 used 32-bit counts and is obsolete).
    case unsupportedVersion(UInt32)
    /// A big-endian file (the version reads byte-swapped).
    case bigEndian
    /// More tensors than the bytes after the header could describe.
    case tooManyTensors(count: UInt64, fileSize: Int)
    /// More key-values than the bytes after the header could hold.
    case tooManyKeyValues(count: UInt64, fileSize: Int)
    /// A string whose declared length runs past the end of the file.
    case stringPastEnd(what: String, length: UInt64, offset: Int, fileSize: Int)
    case invalidUTF8(what: String)
    case emptyKey(index: Int)
    case duplicateKey(String)
    case unknownValueType(key: String, type: UInt32)
    /// An array whose element count cannot fit in the rest of the file.
    case arrayPastEnd(key: String, count: UInt64, offset: Int, fileSize: Int)
    /// An array of arrays (llama.cpp does not read them either).
    case nestedArray(key: String)
    /// `general.alignment` that is not a non-zero power-of-two uint32.
    case badAlignment(String)
    case emptyTensorName(index: Int)
    case duplicateTensorName(String)
    /// n_dims outside 1...4.
    case badDimensionCount(name: String, count: UInt32)
    /// A dimension past Int64, or an element count or byte size that overflows.
    case dimensionsOverflow(name: String, dimensions: [UInt64])
    case unknownTensorType(name: String, type: UInt32)
    /// ne[0] is not a multiple of the type's block size.
    case rowNotBlockMultiple(name: String, ne0: Int, blockSize: Int, type: String)
    /// A data offset that is not a multiple of the alignment.
    case misalignedOffset(name: String, offset: UInt64, alignment: Int)
    /// A tensor's bytes [offset, offset + size) leave the data section.
    case dataOutsideFile(name: String, offset: UInt64, byteCount: Int, dataSize: Int)
    case overlappingTensors(String, String)
    /// A valid type grlhf does not dequantize (K-quants, IQ*, integers, ...).
    case unsupportedTensorType(name: String, type: String)
    /// A tensor larger than `Tensor.maxBytes` as float32.
    case tensorTooLarge(name: String, bytes: Int)
    // Model loading:
    case missingKey(String)
    case wrongKeyType(key: String, expected: String, found: String)
    case missingTensor(String)
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case .truncated(let what, let offset, let size):
            return "gguf: truncated: the file ends (\(size) bytes) inside \(what) at byte \(offset)"
        case .badMagic(let m): return "gguf: bad magic \(m.map { String(format: "%02x", $0) }.joined()) (expected 47475546, \"GGUF\")"
        case .unsupportedVersion(let v): return "gguf: unsupported version \(v) (2 and 3 are read)"
        case .bigEndian: return "gguf: big-endian file (only little-endian GGUF is read)"
        case .tooManyTensors(let n, let size): return "gguf: tensor count \(n) is absurd for a file of \(size) bytes"
        case .tooManyKeyValues(let n, let size): return "gguf: key-value count \(n) is absurd for a file of \(size) bytes"
        case .stringPastEnd(let what, let length, let offset, let size):
            return "gguf: \(what): string length \(length) at byte \(offset) runs past the end of the \(size)-byte file"
        case .invalidUTF8(let what): return "gguf: \(what) is not valid UTF-8"
        case .emptyKey(let i): return "gguf: key-value \(i) has an empty key"
        case .duplicateKey(let k): return "gguf: duplicate key \"\(k)\""
        case .unknownValueType(let k, let t): return "gguf: key \"\(k)\": unknown value type \(t)"
        case .arrayPastEnd(let k, let n, let offset, let size):
            return "gguf: key \"\(k)\": array of \(n) elements at byte \(offset) cannot fit in the \(size)-byte file"
        case .nestedArray(let k): return "gguf: key \"\(k)\": arrays of arrays are not supported"
        case .badAlignment(let what): return "gguf: general.alignment \(what) is not a non-zero power-of-two uint32"
        case .emptyTensorName(let i): return "gguf: tensor \(i) has an empty name"
        case .duplicateTensorName(let n): return "gguf: duplicate tensor name \"\(n)\""
        case .badDimensionCount(let n, let c): return "gguf: tensor \"\(n)\": \(c) dimensions (1...\(GGUFFile.maxDimensions) allowed)"
        case .dimensionsOverflow(let n, let d): return "gguf: tensor \"\(n)\": dimensions \(d) overflow"
        case .unknownTensorType(let n, let t): return "gguf: tensor \"\(n)\": unknown ggml type \(t)"
        case .rowNotBlockMultiple(let n, let ne0, let b, let t):
            return "gguf: tensor \"\(n)\": ne0 \(ne0) is not a multiple of \(t)'s block size \(b)"
        case .misalignedOffset(let n, let o, let a): return "gguf: tensor \"\(n)\": data offset \(o) is not a multiple of the alignment \(a)"
        case .dataOutsideFile(let n, let o, let c, let size):
            return "gguf: tensor \"\(n)\": \(c) bytes at data offset \(o) lie outside the \(size)-byte data section"
        case .overlappingTensors(let a, let b): return "gguf: tensor \"\(b)\" overlaps tensor \"\(a)\""
        case .unsupportedTensorType(let n, let t):
            return "gguf: tensor \"\(n)\": type \(t) is not supported (F32, F16, BF16, Q8_0, Q4_0, Q4_1 are)"
        case .tensorTooLarge(let n, let b): return "gguf: tensor \"\(n)\" needs \(b) bytes as float32, more than the \(Tensor.maxBytes)-byte limit"
        case .missingKey(let k): return "gguf: missing key \"\(k)\""
        case .wrongKeyType(let k, let e, let f): return "gguf: key \"\(k)\" must be \(e), found \(f)"
        case .missingTensor(let n): return "gguf: no tensor \"\(n)\""
        case .io(let path, let reason): return "gguf: \(path): \(reason)"
        }
    }

    public var grlhfError: GRLHFError {
        switch self {
        case .unsupportedVersion, .bigEndian, .nestedArray, .unsupportedTensorType: return .unsupported(description)
        case .tensorTooLarge: return .outOfMemory(description)
        case .io: return .io(description)
        default: return .invalidFormat(description)
        }
    }
}

// MARK: - Bytes

/// The file's bytes: a read-only memory map, or an owned copy.
final class GGUFBytes: @unchecked Sendable {
    let buffer: UnsafeRawBufferPointer
    private let release: () -> Void

    init(copying bytes: [UInt8]) {
        let p = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        bytes.withUnsafeBytes { if let b = $0.baseAddress { p.baseAddress!.copyMemory(from: b, byteCount: bytes.count) } }
        buffer = UnsafeRawBufferPointer(start: p.baseAddress, count: bytes.count)
        release = { p.deallocate() }
    }

    init(mapping path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw GGUFError.io(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw GGUFError.io(path: path, reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw GGUFError.io(path: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        if size == 0 {
            buffer = UnsafeRawBufferPointer(start: nil, count: 0)
            release = {}
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw GGUFError.io(path: path, reason: "cannot map: \(String(cString: strerror(errno)))")
        }
        buffer = UnsafeRawBufferPointer(start: p, count: size)
        release = { munmap(p, size) }
    }

    deinit { release() }
}

// MARK: - Parsing

struct GGUFParser {
    let bytes: UnsafeRawBufferPointer
    var position = 0
    var size: Int { bytes.count }
    var remaining: Int { size - position }

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    struct Parsed {
        var version = 0
        var metadata: [(key: String, value: GGUFValue)] = []
        var tensors: [GGUFTensorInfo] = []
        var alignment = GGUFFile.defaultAlignment
        var dataOffset = 0
    }

    mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws {
        guard n <= remaining else { throw GGUFError.truncated(what: what(), offset: position, fileSize: size) }
    }

    mutating func load<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try need(MemoryLayout<T>.size, what())
        let v = T(littleEndian: bytes.baseAddress!.loadUnaligned(fromByteOffset: position, as: T.self))
        position += MemoryLayout<T>.size
        return v
    }

    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let start = position
        let length = try load(UInt64.self, what())
        guard length <= UInt64(remaining) else {
            throw GGUFError.stringPastEnd(what: what(), length: length, offset: start, fileSize: size)
        }
        let n = Int(length)
        let raw = UnsafeRawBufferPointer(rebasing: bytes[position ..< position + n])
        position += n
        guard let s = String(validating: raw.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw GGUFError.invalidUTF8(what: what())
        }
        return s
    }

    mutating func parse() throws -> Parsed {
        var out = Parsed()
        try need(4, "the header")
        let magic = Array(bytes[0 ..< 4])
        guard magic == Array("GGUF".utf8) else { throw GGUFError.badMagic(magic) }
        position = 4
        let version = try load(UInt32.self, "the header")
        if version & 0xFFFF == 0 && version != 0 { throw GGUFError.bigEndian }
        guard version == 2 || version == 3 else { throw GGUFError.unsupportedVersion(version) }
        out.version = Int(version)
        let tensorCount = try load(UInt64.self, "the header")
        let kvCount = try load(UInt64.self, "the header")
        // The least a key-value takes: a 1-byte key with its length, a type, a 1-byte value.
        // The least a tensor info takes: a 1-byte name with its length, n_dims, one dimension,
        // type and offset.
        let minKV: UInt64 = 8 + 1 + 4 + 1, minTensor: UInt64 = 8 + 1 + 4 + 8 + 4 + 8
        let (kvBytes, o1) = kvCount.multipliedReportingOverflow(by: minKV)
        guard !o1, kvBytes <= UInt64(remaining) else { throw GGUFError.tooManyKeyValues(count: kvCount, fileSize: size) }
        let (tensorBytes, o2) = tensorCount.multipliedReportingOverflow(by: minTensor)
        guard !o2, tensorBytes <= UInt64(remaining) - kvBytes else {
            throw GGUFError.tooManyTensors(count: tensorCount, fileSize: size)
        }

        var seenKeys = Set<String>()
        for i in 0 ..< Int(kvCount) {
            let key = try string("key \(i)")
            guard !key.isEmpty else { throw GGUFError.emptyKey(index: i) }
            guard seenKeys.insert(key).inserted else { throw GGUFError.duplicateKey(key) }
            let rawType = try load(UInt32.self, "the type of key \"\(key)\"")
            guard let type = GGUFValueType(rawValue: rawType) else { throw GGUFError.unknownValueType(key: key, type: rawType) }
            out.metadata.append((key, try value(type, key: key, inArray: false)))
        }
        if let a = out.metadata.first(where: { $0.key == "general.alignment" })?.value {
            guard case .uint32(let v) = a, v != 0, v & (v - 1) == 0 else { throw GGUFError.badAlignment("\(a)") }
            out.alignment = Int(v)
        }

        struct Raw { var name: String; var dims: [Int]; var type: GGMLType; var offset: UInt64; var bytes: Int; var count: Int }
        var raws: [Raw] = []
        raws.reserveCapacity(Int(tensorCount))
        var seenNames = Set<String>()
        for i in 0 ..< Int(tensorCount) {
            let name = try string("the name of tensor \(i)")
            guard !name.isEmpty else { throw GGUFError.emptyTensorName(index: i) }
            guard seenNames.insert(name).inserted else { throw GGUFError.duplicateTensorName(name) }
            let nDims = try load(UInt32.self, "tensor \"\(name)\"")
            guard nDims >= 1, nDims <= UInt32(GGUFFile.maxDimensions) else { throw GGUFError.badDimensionCount(name: name, count: nDims) }
            var rawDims: [UInt64] = []
            for _ in 0 ..< Int(nDims) { rawDims.append(try load(UInt64.self, "tensor \"\(name)\"")) }
            let rawType = try load(UInt32.self, "tensor \"\(name)\"")
            let offset = try load(UInt64.self, "tensor \"\(name)\"")
            var count = 1, overflow = false
            for d in rawDims {
                guard d <= UInt64(Int64.max) else { overflow = true; break }
                let (p, o) = count.multipliedReportingOverflow(by: Int(d))
                overflow = overflow || o
                count = p
            }
            guard !overflow else { throw GGUFError.dimensionsOverflow(name: name, dimensions: rawDims) }
            guard let type = GGMLType.known[rawType] else { throw GGUFError.unknownTensorType(name: name, type: rawType) }
            let ne0 = Int(rawDims[0])
            guard ne0 % type.blockSize == 0 else {
                throw GGUFError.rowNotBlockMultiple(name: name, ne0: ne0, blockSize: type.blockSize, type: type.name)
            }
            let (byteCount, o3) = (count / type.blockSize).multipliedReportingOverflow(by: type.typeSize)
            guard !o3 else { throw GGUFError.dimensionsOverflow(name: name, dimensions: rawDims) }
            guard offset % UInt64(out.alignment) == 0 else {
                throw GGUFError.misalignedOffset(name: name, offset: offset, alignment: out.alignment)
            }
            raws.append(Raw(name: name, dims: rawDims.map { Int($0) }, type: type, offset: offset, bytes: byteCount, count: count))
        }

        // The data section starts at the next multiple of the alignment.
        let (padded, o4) = position.addingReportingOverflow(out.alignment - 1)
        let dataOffset = o4 ? Int.max : padded / out.alignment * out.alignment
        if raws.isEmpty {
            out.dataOffset = min(dataOffset, size)
        } else {
            guard dataOffset <= size else {
                throw GGUFError.truncated(what: "the padding before the tensor data", offset: position, fileSize: size)
            }
            out.dataOffset = dataOffset
        }
        let dataSize = size - out.dataOffset
        for r in raws {
            guard r.offset <= UInt64(dataSize), r.bytes <= dataSize - Int(r.offset) else {
                throw GGUFError.dataOutsideFile(name: r.name, offset: r.offset, byteCount: r.bytes, dataSize: dataSize)
            }
        }
        let byOffset = raws.sorted { $0.offset < $1.offset }
        for (a, b) in zip(byOffset, byOffset.dropFirst()) where a.bytes > 0 && b.bytes > 0 {
            if Int(a.offset) + a.bytes > Int(b.offset) { throw GGUFError.overlappingTensors(a.name, b.name) }
        }
        out.tensors = raws.map {
            GGUFTensorInfo(name: $0.name, dimensions: $0.dims, type: $0.type, offset: Int($0.offset),
                           byteCount: $0.bytes, elementCount: $0.count)
        }
        return out
    }

    mutating func value(_ type: GGUFValueType, key: String, inArray: Bool) throws -> GGUFValue {
        let what = "the value of key \"\(key)\""
        switch type {
        case .uint8: return .uint8(try load(UInt8.self, what))
        case .int8: return .int8(try load(Int8.self, what))
        case .uint16: return .uint16(try load(UInt16.self, what))
        case .int16: return .int16(try load(Int16.self, what))
        case .uint32: return .uint32(try load(UInt32.self, what))
        case .int32: return .int32(try load(Int32.self, what))
        case .float32: return .float32(Float(bitPattern: try load(UInt32.self, what)))
        case .bool: return .bool(try load(UInt8.self, what) != 0)
        case .string: return .string(try string(what))
        case .uint64: return .uint64(try load(UInt64.self, what))
        case .int64: return .int64(try load(Int64.self, what))
        case .float64: return .float64(Double(bitPattern: try load(UInt64.self, what)))
        case .array:
            let rawType = try load(UInt32.self, what)
            guard let elementType = GGUFValueType(rawValue: rawType) else { throw GGUFError.unknownValueType(key: key, type: rawType) }
            guard elementType != .array else { throw GGUFError.nestedArray(key: key) }
            let start = position
            let count = try load(UInt64.self, what)
            let (need, o) = count.multipliedReportingOverflow(by: UInt64(elementType.minimumSize))
            guard !o, need <= UInt64(remaining) else {
                throw GGUFError.arrayPastEnd(key: key, count: count, offset: start, fileSize: size)
            }
            var items: [GGUFValue] = []
            items.reserveCapacity(Int(count))
            for _ in 0 ..< Int(count) { items.append(try value(elementType, key: key, inArray: true)) }
            return .array(elementType, items)
        }
    }
}

// MARK: - Dequantization

/// Block formats as ggml and gguf-py define them; each matches `gguf.quants.dequantize` bit for
/// bit (the same float32 operations in the same order, never fused).
enum GGUFDequantize {
    static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    static func run(_ type: GGMLType, name: String, source p: UnsafeRawPointer, count n: Int,
                    into y: UnsafeMutablePointer<Float>) throws {
        switch type.id {
        case GGMLType.f32.id:
            UnsafeMutableRawPointer(y).copyMemory(from: p, byteCount: n * 4)
        case GGMLType.f16.id:
            for i in 0 ..< n { y[i] = half(p, 2 * i) }
        case GGMLType.bf16.id:
            for i in 0 ..< n { y[i] = Float(bitPattern: UInt32(p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
        case GGMLType.q8_0.id:
            for b in 0 ..< n / 32 {
                let block = p + b * 34, out = y + b * 32
                let d = half(block, 0)
                for j in 0 ..< 32 { out[j] = Float(Int8(bitPattern: block.load(fromByteOffset: 2 + j, as: UInt8.self))) * d }
            }
        case GGMLType.q4_0.id:
            for b in 0 ..< n / 32 {
                let block = p + b * 18, out = y + b * 32
                let d = half(block, 0)
                for j in 0 ..< 16 {
                    let q = block.load(fromByteOffset: 2 + j, as: UInt8.self)
                    out[j] = d * Float(Int(q & 0x0F) - 8)
                    out[j + 16] = d * Float(Int(q >> 4) - 8)
                }
            }
        case GGMLType.q4_1.id:
            for b in 0 ..< n / 32 {
                let block = p + b * 20, out = y + b * 32
                let d = half(block, 0), m = half(block, 2)
                for j in 0 ..< 16 {
                    let q = block.load(fromByteOffset: 4 + j, as: UInt8.self)
                    let lo = d * Float(q & 0x0F), hi = d * Float(q >> 4)  // product rounded, then the sum: no FMA
                    out[j] = lo + m
                    out[j + 16] = hi + m
                }
            }
        default:
            throw GGUFError.unsupportedTensorType(name: name, type: type.name)
        }
    }
}
