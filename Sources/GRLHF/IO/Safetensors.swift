import Foundation

// Tensor bytes are copied between files and Float storage as they are; the format is little-endian.
#if _endian(big)
#error("Safetensors assumes a little-endian host")
#endif

/// Reader and writer for the safetensors format: an 8-byte little-endian header length N, N bytes
/// of UTF-8 JSON describing each tensor (dtype, shape, byte range in the buffer) plus optional
/// string metadata, then the byte buffer.
///
/// Every header value is hostile: sizes use checked arithmetic, each corruption has its own
/// `SafetensorsError`, and nothing is allocated from a header value before it has been checked
/// against the bytes actually present. Release builds run with `-Ounchecked`, so the code never
/// relies on a trap for safety: every index and every sum or product of input values is checked.
public enum Safetensors {
    /// Largest header accepted, as in the reference implementation: a giant header is a denial
    /// of service, not a model.
    public static let maxHeaderLength = 100_000_000
    /// Largest rank accepted (numpy's limit); bounds the memory a single shape can claim.
    public static let maxRank = 64

    /// Named tensors in file (offset) order; F32, F16 and BF16 are read into float32.
    public static func read(contentsOf path: String) throws -> [(name: String, tensor: Tensor)] {
        try withFile(path) { size, next in try readTensors(readHeader(size: size, next: next), next: next) }
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws -> [(name: String, tensor: Tensor)] {
        var position = 0
        let next: ByteSource = { destination, count in
            // Validation keeps reads inside the buffer; this guard makes that independent of it.
            guard let base = bytes.baseAddress, count <= bytes.count - position else {
                throw GRLHFError.internal("safetensors: read past the end of the buffer")
            }
            destination.copyMemory(from: base + position, byteCount: count)
            position += count
        }
        return try readTensors(readHeader(size: bytes.count, next: next), next: next)
    }

    /// Metadata ("__metadata__") of a file, if any. Reads and validates only the header.
    public static func metadata(contentsOf path: String) throws -> [String: String] {
        try withFile(path) { size, next in try readHeader(size: size, next: next).metadata }
    }

    /// Writes F32 tensors atomically: temp file in the same directory, fsync, rename, fsync dir.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], to path: String,
                             metadata: [String: String] = [:]) throws {
        let header = try encodeHeader(tensors, metadata: metadata)  // validate before touching disk
        try AtomicFile.write(to: path) { write in
            try header.withUnsafeBytes { try write($0) }
            for (_, tensor) in tensors { try write(UnsafeRawBufferPointer(start: tensor.data, count: tensor.count * 4)) }
        }
    }

    public static func encode(_ tensors: [(name: String, tensor: Tensor)],
                              metadata: [String: String] = [:]) throws -> [UInt8] {
        var bytes = try encodeHeader(tensors, metadata: metadata)
        for (_, tensor) in tensors {
            bytes.append(contentsOf: UnsafeRawBufferPointer(start: tensor.data, count: tensor.count * 4))
        }
        return bytes
    }
}

/// One kind of corruption per case; `description` names the tensor and the offending values.
public enum SafetensorsError: Error, Equatable, CustomStringConvertible, GRLHFErrorConvertible {
    /// Fewer than the 8 bytes of the header length.
    case fileTooShort(size: Int)
    /// The header length exceeds `Safetensors.maxHeaderLength`.
    case headerTooLarge(length: UInt64)
    /// The header length runs past the end of the file.
    case headerPastEnd(length: UInt64, available: Int)
    case headerNotUTF8
    /// The header is not JSON; the message says what is wrong at which header byte.
    case headerNotJSON(String)
    /// The header is JSON but not an object.
    case headerNotObject
    /// An entry is not an object, or a field is missing, repeated or of the wrong type.
    case invalidEntry(name: String, reason: String)
    /// `__metadata__` is not an object of strings, or repeats a key.
    case invalidMetadata(String)
    case emptyName
    /// A name with a NUL byte, which no C caller could tell apart from its prefix.
    case nameContainsNUL(String)
    /// A valid tensor larger than `Tensor.maxBytes` once widened to float32.
    case tensorTooLarge(name: String, bytes: Int)
    case duplicateName(String)
    /// A dtype string the format does not define.
    case unknownDtype(name: String, dtype: String)
    /// A dtype the format defines but grlhf does not load (integers, F64, 8-bit floats, ...).
    case unsupportedDtype(name: String, dtype: String)
    /// A dimension that is negative, not an integer, or too large.
    case invalidDimension(name: String, value: String)
    case tooManyDimensions(name: String)
    /// A data offset that is negative, not an integer, or too large.
    case invalidOffset(name: String, value: String)
    case offsetsReversed(name: String, begin: Int, end: Int)
    /// The element count or byte size of a shape overflows.
    case byteSizeOverflow(name: String, shape: [Int])
    /// shape × dtype size differs from the length of the byte range.
    case sizeMismatch(name: String, expected: Int, actual: Int)
    case offsetPastEnd(name: String, end: Int, bufferSize: Int)
    /// A byte range starts before the previous one (in offset order) ended.
    case overlap(name: String, previous: String)
    /// Bytes between the previous range (or the buffer start) and this one belong to no tensor.
    case hole(name: String, begin: Int, expected: Int)
    /// Bytes after the last range belong to no tensor.
    case trailingBytes(end: Int, bufferSize: Int)
    /// Opening, reading or writing the file failed.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case .fileTooShort(let size):
            return "safetensors: file of \(size) bytes is shorter than the 8-byte header length"
        case .headerTooLarge(let length):
            return "safetensors: header length \(length) exceeds the \(Safetensors.maxHeaderLength)-byte cap"
        case .headerPastEnd(let length, let available):
            return "safetensors: header length \(length) exceeds the \(available) bytes after it"
        case .headerNotUTF8: return "safetensors: header is not valid UTF-8"
        case .headerNotJSON(let what): return "safetensors: header is not valid JSON: \(what)"
        case .headerNotObject: return "safetensors: header is not a JSON object"
        case .invalidEntry(let name, let reason): return "safetensors: tensor \"\(name)\": \(reason)"
        case .invalidMetadata(let reason): return "safetensors: __metadata__: \(reason)"
        case .emptyName: return "safetensors: empty tensor name"
        case .nameContainsNUL(let name): return "safetensors: tensor name \"\(name.replacingOccurrences(of: "\0", with: "\\0"))\" contains a NUL byte"
        case .tensorTooLarge(let name, let bytes):
            return "safetensors: tensor \"\(name)\" needs \(bytes) bytes as float32, more than the \(Tensor.maxBytes)-byte limit"
        case .duplicateName(let name): return "safetensors: duplicate tensor name \"\(name)\""
        case .unknownDtype(let name, let dtype): return "safetensors: tensor \"\(name)\": unknown dtype \"\(dtype)\""
        case .unsupportedDtype(let name, let dtype):
            return "safetensors: tensor \"\(name)\": dtype \(dtype) is not supported (F32, F16, BF16 are)"
        case .invalidDimension(let name, let value):
            return "safetensors: tensor \"\(name)\": dimension \(value) is not a non-negative integer"
        case .tooManyDimensions(let name):
            return "safetensors: tensor \"\(name)\": more than \(Safetensors.maxRank) dimensions"
        case .invalidOffset(let name, let value):
            return "safetensors: tensor \"\(name)\": data offset \(value) is not a non-negative integer"
        case .offsetsReversed(let name, let begin, let end):
            return "safetensors: tensor \"\(name)\": data_offsets [\(begin), \(end)] end before they begin"
        case .byteSizeOverflow(let name, let shape):
            return "safetensors: tensor \"\(name)\": byte size of shape \(shape) overflows"
        case .sizeMismatch(let name, let expected, let actual):
            return "safetensors: tensor \"\(name)\": shape and dtype give \(expected) bytes, data_offsets span \(actual)"
        case .offsetPastEnd(let name, let end, let bufferSize):
            return "safetensors: tensor \"\(name)\": data ends at \(end), past the \(bufferSize)-byte buffer"
        case .overlap(let name, let previous):
            return "safetensors: tensor \"\(name)\" overlaps tensor \"\(previous)\""
        case .hole(let name, let begin, let expected):
            return "safetensors: tensor \"\(name)\" begins at \(begin), leaving a hole after byte \(expected)"
        case .trailingBytes(let end, let bufferSize):
            return "safetensors: the last tensor ends at \(end) but the buffer holds \(bufferSize) bytes"
        case .io(let path, let reason): return "safetensors: \(path): \(reason)"
        }
    }

    public var grlhfError: GRLHFError {
        switch self {
        case .unsupportedDtype: return .unsupported(description)
        case .io: return .io(description)
        case .tensorTooLarge: return .outOfMemory(description)
        default: return .invalidFormat(description)
        }
    }
}

// MARK: - Reading

extension Safetensors {
    /// Copies the next `count` bytes of the input to the destination, or throws.
    typealias ByteSource = (_ destination: UnsafeMutableRawPointer, _ count: Int) throws -> Void

    enum DType: String {
        case f32 = "F32", f16 = "F16", bf16 = "BF16"
        var size: Int { self == .f32 ? 4 : 2 }
    }

    /// Dtypes the format defines that are not loaded: reported as unsupported, not as corrupt.
    static let otherDtypes: Set<String> = [
        "BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F64", "C64",
        "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2",
    ]

    struct Entry {
        let name: String
        let dtype: DType
        let shape: [Int]
        let begin: Int
        let end: Int
    }

    /// A validated header: entries in offset order, covering the buffer exactly.
    struct Header {
        var entries: [Entry] = []
        var metadata: [String: String] = [:]
    }

    /// Opens `path` and hands `body` the file size and a source reading the file from its start.
    static func withFile<R>(_ path: String, _ body: (Int, ByteSource) throws -> R) throws -> R {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SafetensorsError.io(path: path, reason: "open: \(errnoText())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SafetensorsError.io(path: path, reason: "stat: \(errnoText())") }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw SafetensorsError.io(path: path, reason: "not a regular file")
        }
        return try body(Int(info.st_size)) { destination, count in
            var done = 0
            while done < count {
                let n = readBytes(fd, destination + done, count - done)
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw SafetensorsError.io(path: path, reason: "read: \(errnoText())") }
                // Sizes were checked against fstat, so a short file was changed while reading.
                guard n > 0 else { throw SafetensorsError.io(path: path, reason: "file ended early (modified while reading?)") }
                done += n
            }
        }
    }

    /// Reads the length prefix and JSON header of an input of `size` bytes and validates them.
    static func readHeader(size: Int, next: ByteSource) throws -> Header {
        guard size >= 8 else { throw SafetensorsError.fileTooShort(size: size) }
        var prefix: UInt64 = 0
        try withUnsafeMutableBytes(of: &prefix) { try next($0.baseAddress!, 8) }
        let length = UInt64(littleEndian: prefix)
        guard length <= UInt64(maxHeaderLength) else { throw SafetensorsError.headerTooLarge(length: length) }
        guard length <= UInt64(size - 8) else {
            throw SafetensorsError.headerPastEnd(length: length, available: size - 8)
        }
        let n = Int(length)
        let json = try [UInt8](unsafeUninitializedCapacity: n) { buffer, initialized in
            if let base = buffer.baseAddress { try next(UnsafeMutableRawPointer(base), n) }
            initialized = n
        }
        return try json.withUnsafeBytes { try parseHeader($0, bufferSize: size - 8 - n) }
    }

    /// Reads the buffer that follows the header. Entries are in offset order and cover the buffer
    /// exactly, so reading them one after another consumes it.
    static func readTensors(_ header: Header, next: ByteSource) throws -> [(name: String, tensor: Tensor)] {
        try header.entries.map { entry in
            let bytes = entry.shape.elementCount * 4  // the layout check bounded it by the file
            guard bytes <= Tensor.maxBytes else { throw SafetensorsError.tensorTooLarge(name: entry.name, bytes: bytes) }
            let tensor = Tensor(uninitialized: entry.shape)
            let n = tensor.count
            let raw = UnsafeMutableRawPointer(tensor.data)
            // Narrow values are read into the top of the float32 storage and widened in place,
            // front to back: element k is written to bytes [4k, 4k+4), which lie below the source
            // bytes of every later element, so peak memory is the tensor itself.
            let source = n * (4 - entry.dtype.size)
            try next(raw + source, n * entry.dtype.size)
            switch entry.dtype {
            case .f32: break
            case .f16:
                for k in 0 ..< n {  // Float16 to Float is exact, subnormals, infinities and NaN included
                    tensor.data[k] = Float(Float16(bitPattern: raw.load(fromByteOffset: source + 2 * k, as: UInt16.self)))
                }
            case .bf16:
                for k in 0 ..< n {  // bfloat16 is the top half of a float32
                    tensor.data[k] = Float(bitPattern: UInt32(raw.load(fromByteOffset: source + 2 * k, as: UInt16.self)) << 16)
                }
            }
            return (entry.name, tensor)
        }
    }

    /// Parses and validates a header for a buffer of `bufferSize` bytes.
    static func parseHeader(_ json: UnsafeRawBufferPointer, bufferSize: Int) throws -> Header {
        // Validate the encoding once, so strings can be decoded from byte slices afterwards.
        let invalid = transcode(json.makeIterator(), from: UTF8.self, to: UTF32.self,
                                stoppingOnError: true, into: { _ in })
        guard !invalid else { throw SafetensorsError.headerNotUTF8 }

        var scanner = JSONScanner(bytes: json)
        try scanner.require("{", orThrow: .headerNotObject)
        var header = Header()
        // Names are compared as bytes, as the format defines them (Swift's String equality would
        // also merge names that differ only in Unicode normalisation).
        var names = Set<[UInt8]>()
        var first = true
        try scanner.expect("{")
        while let name = try scanner.nextMember(first: &first) {
            guard !name.isEmpty else { throw SafetensorsError.emptyName }
            guard !name.utf8.contains(0) else { throw SafetensorsError.nameContainsNUL(name) }
            guard names.insert(Array(name.utf8)).inserted else { throw SafetensorsError.duplicateName(name) }
            if name == "__metadata__" {
                header.metadata = try parseMetadata(&scanner)
            } else {
                header.entries.append(try parseEntry(name, &scanner))
            }
        }
        try scanner.expectEnd()
        try checkLayout(&header.entries, bufferSize: bufferSize)
        return header
    }

    static func parseMetadata(_ scanner: inout JSONScanner) throws -> [String: String] {
        if try scanner.literal("null") { return [:] }  // the reference reader accepts null
        try scanner.require("{", orThrow: .invalidMetadata("not an object"))
        try scanner.expect("{")
        var metadata: [String: String] = [:]
        var first = true
        while let key = try scanner.nextMember(first: &first) {
            try scanner.require("\"", orThrow: .invalidMetadata("value of \"\(key)\" is not a string"))
            guard metadata.updateValue(try scanner.string(), forKey: key) == nil else {
                throw SafetensorsError.invalidMetadata("duplicate key \"\(key)\"")
            }
        }
        return metadata
    }

    /// Parses one tensor entry and checks it on its own (dtype, dimensions, offsets, byte size).
    static func parseEntry(_ name: String, _ scanner: inout JSONScanner) throws -> Entry {
        func invalid(_ reason: String) -> SafetensorsError { .invalidEntry(name: name, reason: reason) }
        try scanner.require("{", orThrow: invalid("entry is not an object"))
        try scanner.expect("{")
        var dtype: String?, shape: [Int]?, offsets: [Int]?
        var first = true
        while let field = try scanner.nextMember(first: &first) {
            switch field {
            case "dtype":
                guard dtype == nil else { throw invalid("duplicate field \"dtype\"") }
                try scanner.require("\"", orThrow: invalid("dtype is not a string"))
                dtype = try scanner.string()
            case "shape":
                guard shape == nil else { throw invalid("duplicate field \"shape\"") }
                shape = try integers(&scanner, limit: maxRank, invalid: invalid("shape is not an array of integers"),
                                     tooMany: .tooManyDimensions(name: name),
                                     bad: { .invalidDimension(name: name, value: $0) })
            case "data_offsets":
                guard offsets == nil else { throw invalid("duplicate field \"data_offsets\"") }
                let wrong = invalid("data_offsets is not an array of 2 integers")
                offsets = try integers(&scanner, limit: 2, invalid: wrong, tooMany: wrong,
                                       bad: { .invalidOffset(name: name, value: $0) })
                guard offsets?.count == 2 else { throw wrong }
            default:
                try scanner.skipValue()  // the reference reader ignores unknown fields too
            }
        }
        guard let dtype else { throw invalid("missing dtype") }
        guard let shape else { throw invalid("missing shape") }
        guard let offsets else { throw invalid("missing data_offsets") }
        guard let type = DType(rawValue: dtype) else {
            throw otherDtypes.contains(dtype) ? SafetensorsError.unsupportedDtype(name: name, dtype: dtype)
                                              : SafetensorsError.unknownDtype(name: name, dtype: dtype)
        }
        let begin = offsets[0], end = offsets[1]
        guard begin <= end else { throw SafetensorsError.offsetsReversed(name: name, begin: begin, end: end) }
        var bytes = type.size
        for dim in shape {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw SafetensorsError.byteSizeOverflow(name: name, shape: shape) }
            bytes = product
        }
        guard bytes == end - begin else {
            throw SafetensorsError.sizeMismatch(name: name, expected: bytes, actual: end - begin)
        }
        return Entry(name: name, dtype: type, shape: shape, begin: begin, end: end)
    }

    /// Parses an array of at most `limit` non-negative integers.
    static func integers(_ scanner: inout JSONScanner, limit: Int, invalid: SafetensorsError,
                         tooMany: SafetensorsError, bad: (String) -> SafetensorsError) throws -> [Int] {
        try scanner.require("[", orThrow: invalid)
        try scanner.expect("[")
        var values: [Int] = []
        var first = true
        while try scanner.nextElement(first: &first) {
            guard values.count < limit else { throw tooMany }
            try scanner.require("-0123456789", orThrow: invalid)
            let (text, value) = try scanner.integer()
            guard let value else { throw bad(text) }
            values.append(value)
        }
        return values
    }

    /// Sorts entries by offset and checks they tile the buffer: the first begins at 0, each
    /// begins where the previous ended, the last ends at the buffer's end.
    static func checkLayout(_ entries: inout [Entry], bufferSize: Int) throws {
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }  // names make it total
        var expected = 0
        var previous: String?
        for entry in entries {
            guard entry.end <= bufferSize else {
                throw SafetensorsError.offsetPastEnd(name: entry.name, end: entry.end, bufferSize: bufferSize)
            }
            if entry.begin < expected, let previous {
                throw SafetensorsError.overlap(name: entry.name, previous: previous)
            }
            guard entry.begin == expected else {
                throw SafetensorsError.hole(name: entry.name, begin: entry.begin, expected: expected)
            }
            expected = entry.end
            previous = entry.name
        }
        guard expected == bufferSize else {
            throw SafetensorsError.trailingBytes(end: expected, bufferSize: bufferSize)
        }
    }
}

// MARK: - Strict JSON

/// A strict RFC 8259 scanner over the header bytes (already known to be valid UTF-8). It is
/// ours rather than JSONSerialization's because that one silently keeps one of two duplicate
/// keys, and because values are checked as they are read rather than built into a tree.
struct JSONScanner {
    let bytes: UnsafeRawBufferPointer
    var index = 0
    /// Unknown fields are skipped recursively; this bounds the recursion.
    static let maxDepth = 128

    func fail(_ what: String) -> SafetensorsError { .headerNotJSON("\(what) at byte \(index)") }

    /// The next byte after whitespace, without consuming it.
    mutating func peek() -> UInt8? {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        return index < bytes.count ? bytes[index] : nil
    }

    mutating func peekIsNumber() -> Bool {
        guard let c = peek() else { return false }
        return c == UInt8(ascii: "-") || (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(c)
    }

    /// Throws `error` unless the next value starts with one of `starts`, or a syntax error if
    /// that value is not JSON at all (so a truncated header reads as such). Consumes nothing.
    mutating func require(_ starts: String, orThrow error: SafetensorsError) throws {
        if let c = peek(), starts.utf8.contains(c) { return }
        try skipValue()
        throw error
    }

    mutating func expect(_ c: Unicode.Scalar) throws {
        guard peek() == UInt8(ascii: c) else { throw fail("expected '\(c)'") }
        index += 1
    }

    mutating func expectEnd() throws {
        guard peek() == nil else { throw fail("unexpected text after the header object") }
    }

    /// After `{`: the next key (consuming it and its `:`), or nil after the closing `}`.
    mutating func nextMember(first: inout Bool) throws -> String? {
        if peek() == UInt8(ascii: "}") { index += 1; return nil }
        if !first { try expect(",") }
        first = false
        guard peek() == UInt8(ascii: "\"") else { throw fail("expected a string key") }
        let key = try string()
        try expect(":")
        return key
    }

    /// After `[`: whether another element follows (consuming its `,`); consumes the closing `]`.
    mutating func nextElement(first: inout Bool) throws -> Bool {
        if peek() == UInt8(ascii: "]") { index += 1; return false }
        if !first { try expect(",") }
        first = false
        return true
    }

    /// Consumes `word` if it comes next.
    mutating func literal(_ word: StaticString) throws -> Bool {
        _ = peek()
        let n = word.utf8CodeUnitCount
        guard n <= bytes.count - index else { return false }
        for k in 0 ..< n where bytes[index + k] != word.utf8Start[k] { return false }
        index += n
        return true
    }

    mutating func string() throws -> String {
        try expect("\"")
        var out: [UInt8] = []
        while index < bytes.count {
            let c = bytes[index]
            index += 1
            switch c {
            case UInt8(ascii: "\""):
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { break }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800 ..< 0xDC00).contains(code) {  // a high surrogate needs its low half
                        guard try literal("\\u") else { throw fail("unpaired surrogate") }
                        let low = try hex4()
                        guard (0xDC00 ..< 0xE000).contains(low) else { throw fail("unpaired surrogate") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw fail("unpaired surrogate") }
                    out.append(contentsOf: String(Character(scalar)).utf8)
                default: throw fail("invalid escape")
                }
            case 0x00 ..< 0x20: throw fail("control character in string")
            default: out.append(c)
            }
        }
        throw fail("unterminated string")
    }

    mutating func hex4() throws -> UInt32 {
        guard 4 <= bytes.count - index else { throw fail("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0 ..< 4 {
            let c = bytes[index] | 0x20  // lower-cases letters
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0") ... UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a") ... UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            default: throw fail("invalid \\u escape")
            }
            value = value * 16 + UInt32(digit)
            index += 1
        }
        return value
    }

    /// A JSON number: its text (shortened for messages) and its value if it is a non-negative
    /// integer that fits in Int, else nil (negative, fraction, exponent, or too large).
    mutating func integer() throws -> (text: String, value: Int?) {
        guard peekIsNumber() else { throw fail("expected a number") }
        let start = index
        func digits() -> Int {
            let from = index
            while index < bytes.count, (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - from
        }
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        let intStart = index
        let intDigits = digits()
        guard intDigits > 0 else { throw fail("invalid number") }
        guard intDigits == 1 || bytes[intStart] != UInt8(ascii: "0") else { throw fail("number with a leading zero") }
        var integral = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw fail("invalid number") }
            integral = false
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw fail("invalid number") }
            integral = false
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start ..< min(index, start + 40)]), as: UTF8.self)
            + (index - start > 40 ? "..." : "")
        guard !negative, integral else { return (text, nil) }
        var value = 0
        for k in intStart ..< intStart + intDigits {
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(bytes[k] - UInt8(ascii: "0")))
            guard !o1, !o2 else { return (text, nil) }
            value = sum
        }
        return (text, value)
    }

    /// Consumes any JSON value, checking its syntax.
    mutating func skipValue(depth: Int = 0) throws {
        guard depth < Self.maxDepth else { throw fail("nesting deeper than \(Self.maxDepth)") }
        switch peek() {
        case UInt8(ascii: "{"):
            index += 1
            var first = true
            while try nextMember(first: &first) != nil { try skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            index += 1
            var first = true
            while try nextElement(first: &first) { try skipValue(depth: depth + 1) }
        case UInt8(ascii: "\""):
            _ = try string()
        case _ where peekIsNumber():
            _ = try integer()
        default:
            guard try literal("true") || literal("false") || literal("null") else { throw fail("expected a value") }
        }
    }
}

// MARK: - Writing

extension Safetensors {
    /// The length prefix and the JSON header, padded with spaces to a multiple of 8 bytes like
    /// the reference writer, so the buffer (and every F32 tensor in it) starts 8-byte aligned.
    static func encodeHeader(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) throws -> [UInt8] {
        var fields: [String] = []
        if !metadata.isEmpty {  // sorted so that the same input always gives the same bytes
            let pairs = metadata.sorted { $0.key < $1.key }.map { "\(quoted($0.key)):\(quoted($0.value))" }
            fields.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var names = Set<[UInt8]>()
        var offset = 0
        for (name, tensor) in tensors {
            guard !name.isEmpty else { throw GRLHFError.invalidArgument("safetensors: empty tensor name") }
            guard name != "__metadata__" else {
                throw GRLHFError.invalidArgument("safetensors: \"__metadata__\" is reserved and cannot name a tensor")
            }
            guard !name.utf8.contains(0) else { throw GRLHFError.invalidArgument("safetensors: tensor name contains a NUL byte") }
            guard names.insert(Array(name.utf8)).inserted else {
                throw GRLHFError.invalidArgument("safetensors: duplicate tensor name \"\(name)\"")
            }
            let end = offset + tensor.count * 4
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            fields.append("\(quoted(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var json = Array("{\(fields.joined(separator: ","))}".utf8)
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        return withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) } + json
    }

    /// A JSON string literal, escaped as serde_json (the reference writer) does.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\u{00}" ..< "\u{20}":
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

// Outside the enum, whose `read` and `write` would shadow the system calls.
private func readBytes(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ n: Int) -> Int { read(fd, p, n) }
