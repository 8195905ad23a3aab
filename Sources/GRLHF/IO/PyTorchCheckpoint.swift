import Foundation

// Storage bytes are read as little-endian values by explicit conversion, but the fast float32
// copy takes them as they are.
#if _endian(big)
#error("PyTorchCheckpoint assumes a little-endian host")
#endif

/// Reader for PyTorch checkpoints (`torch.save` files: `.pth`, `.pt`, `pytorch_model.bin`)
/// holding state dicts, without Python and without running any code from the file.
///
/// Both of torch's formats are read:
/// - **zip** (the default since torch 1.6): `<archive>/data.pkl` (the pickled object) and one
///   entry `<archive>/data/<key>` per storage; entries must be stored (torch never compresses),
///   ZIP64 directories are followed, CRC-32s are checked, and a `byteorder` of `big` is refused.
/// - **legacy** (`_use_new_zipfile_serialization=False`, and torch before 1.6): five pickles
///   (magic number, protocol 1001, sys_info, the object, the storage keys), then per storage an
///   int64 element count and its raw little-endian bytes.
///
/// The pickles run on a restricted machine (`PickleMachine`) that knows only what state dicts
/// use: `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` (and `_rebuild_tensor`,
/// `_rebuild_parameter`, `_rebuild_parameter_with_state`), and `torch.<T>Storage` type tags in
/// persistent ids. Any other global (`os.system`, `builtins.eval`, a whole `nn.Module`) is refused
/// with `refusedGlobal` naming it; nothing is ever called.
///
/// Every count, length, offset, size and stride is hostile: sizes use checked arithmetic, each
/// view is proved to lie inside its storage, each storage's declared size must equal its bytes,
/// and each corruption has its own `PyTorchCheckpointError`. A file is memory-mapped, so reading
/// it costs the tensors plus the pages touched.
public enum PyTorchCheckpoint {
    /// The legacy format's first pickle: torch's `MAGIC_NUMBER`, 0x1950a86a20f9469cfc6c, as the
    /// little-endian bytes of LONG1.
    static let legacyMagic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
    static let legacyProtocolVersion = 1001

    /// The tensors of a checkpoint, named and ordered as in its state dict, converted to float32.
    ///
    /// - Names: the top-level object must be a dict (an `OrderedDict` state dict, or a plain
    ///   dict). Tensors are returned under their keys; a nested dict is flattened with dotted
    ///   prefixes, so `{"state_dict": {"fc.weight": t}}` gives `state_dict.fc.weight` (strip the
    ///   prefix to load it into a module). Integer keys are written in decimal. Other values
    ///   (ints, strings, None, lists, tuples: an epoch counter, hyperparameters) are skipped.
    /// - Values: tensors come out contiguous whatever their strides and offset (transposed and
    ///   sliced views, several tensors sharing one storage). float16 and bfloat16 widen exactly;
    ///   float64 rounds to the nearest float32 (beyond its range to ±infinity); integers
    ///   (int8 to int64, uint8; e.g. BatchNorm's `num_batches_tracked`) round to the nearest
    ///   float32, exact up to 2^24 in magnitude; bool gives 0 or 1.
    public static func read(contentsOf path: String) throws -> [(name: String, tensor: Tensor)] {
        let file: GGUFBytes  // a read-only mapping, whatever the format
        do { file = try GGUFBytes(mapping: path) } catch GGUFError.io(_, let reason) {
            throw PyTorchCheckpointError.io(path: path, reason: reason)
        }
        return try decode(file.buffer)
    }

    /// The tensors of a checkpoint held in memory; see `read(contentsOf:)`.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws -> [(name: String, tensor: Tensor)] {
        let count = min(bytes.count, 4)
        let head = Array(UnsafeRawBufferPointer(rebasing: bytes[0 ..< count]))
        if head == [0x50, 0x4B, 0x03, 0x04] || head == [0x50, 0x4B, 0x05, 0x06] { return try readZip(bytes) }
        if head.first == 0x80 { return try readLegacy(bytes) }  // a pickle's PROTO opcode
        throw PyTorchCheckpointError.notACheckpoint(head)
    }

    public static func decode(_ bytes: [UInt8]) throws -> [(name: String, tensor: Tensor)] {
        try bytes.withUnsafeBytes { try decode($0) }
    }
}

/// One kind of corruption per case; `description` names the entry, storage or pickle offset.
public enum PyTorchCheckpointError: Error, Equatable, CustomStringConvertible, GRLHFErrorConvertible {
    /// Opening or mapping the file failed.
    case io(path: String, reason: String)
    /// Neither a zip archive nor a pickle; the first bytes.
    case notACheckpoint([UInt8])

    // The zip container.
    /// No end-of-central-directory record at the end of the file.
    case zipNoEndOfDirectory
    /// The archive spans several disks.
    case zipMultiDisk
    /// The central directory lies outside the file, or overlaps the records after it.
    case zipDirectoryOutOfRange(offset: UInt64, size: UInt64, limit: Int)
    /// The ZIP64 locator, end record or extra field is missing or wrong.
    case zip64Invalid(String)
    /// A central directory record is truncated or malformed.
    case zipBadEntry(index: Int, reason: String)
    case zipDuplicateEntry(String)
    /// An entry's local header is missing, truncated, or disagrees with the directory.
    case zipLocalHeaderMismatch(name: String, reason: String)
    /// An entry's bytes run outside the file's entry area.
    case zipEntryOutOfRange(name: String, offset: UInt64, size: UInt64)
    /// An entry compressed with `method` (8 is deflate); torch stores entries uncompressed.
    case zipCompressedEntry(name: String, method: UInt16)
    case zipEncryptedEntry(String)
    case zipChecksumMismatch(String)
    /// No `<archive>/data.pkl` entry.
    case missingDataPickle
    /// More than one `<archive>/data.pkl` entry.
    case ambiguousDataPickle([String])
    /// `<archive>/byteorder` says `big`: big-endian storages are not read.
    case bigEndian
    case invalidByteOrder(String)

    // The legacy format.
    /// The first pickle is not torch's magic number.
    case badMagicNumber
    /// The second pickle is not protocol version 1001.
    case unsupportedProtocolVersion(String)
    /// The storage-key list names a storage no tensor uses.
    case unknownStorageKey(String)
    case duplicateStorageKey(String)
    /// The storage's bytes end before its declared size.
    case truncatedStorage(key: String)
    /// Bytes after the last storage.
    case trailingBytes(offset: Int, fileSize: Int)

    // Pickles.
    /// The pickle ends inside the opcode at `offset`.
    case pickleTruncated(offset: Int)
    case unknownOpcode(opcode: UInt8, offset: Int)
    /// A global outside the allow-list, e.g. `os.system`.
    case refusedGlobal(String)
    /// Opcodes that are individually valid but do not make a state dict (wrong types, stack
    /// underflow, a missing MARK, a changed container, ...).
    case malformedPickle(reason: String, offset: Int)
    /// A stack, memo, mark or nesting limit of `PickleMachine` is exceeded.
    case pickleLimit(what: String, limit: Int, offset: Int)
    /// BINGET of a memo index never stored.
    case undefinedMemo(index: UInt32, offset: Int)
    /// Something recognised but not read (a complex storage type, a pre-1.0 storage view).
    case unsupported(String)

    // Storages and tensors.
    /// A storage referenced by a tensor has no data: no `data/<key>` zip entry, or no place in the
    /// legacy key list.
    case missingStorage(key: String)
    /// A storage's declared element count is negative or absurd.
    case invalidStorageSize(key: String, numel: Int)
    /// One storage key named with two different types or sizes.
    case inconsistentStorage(key: String)
    /// The storage's bytes disagree with its declared element count × element size.
    case storageSizeMismatch(key: String, expectedBytes: Int, actualBytes: Int)
    case negativeSize(storage: String, size: [Int])
    /// A tensor's storage offset lies outside its storage.
    case offsetOutOfRange(storage: String, offset: Int, storageElements: Int)
    /// A tensor's size and strides reach past the end of its storage.
    case viewOutOfRange(storage: String, reaches: Int, storageElements: Int)
    /// A malformed size/stride pair (rank mismatch, negative stride, overflow, too many dims).
    case invalidTensor(storage: String, reason: String)
    /// A tensor, or all tensors together, larger than `Tensor.maxBytes` as float32.
    case tensorTooLarge(name: String, bytes: Int)
    /// The pickled object is not a dict of tensors.
    case notAStateDict(String)
    case duplicateName(String)

    public var description: String {
        switch self {
        case .io(let path, let reason): return "pytorch: \(path): \(reason)"
        case .notACheckpoint(let head):
            return "pytorch: not a torch.save file (starts with \(head.map { String(format: "%02x", $0) }.joined()); expected a zip archive or a pickle)"
        case .zipNoEndOfDirectory: return "pytorch: zip: no end-of-central-directory record (truncated archive?)"
        case .zipMultiDisk: return "pytorch: zip: multi-disk archives are not supported"
        case .zipDirectoryOutOfRange(let offset, let size, let limit):
            return "pytorch: zip: central directory at \(offset) of \(size) bytes runs past byte \(limit)"
        case .zip64Invalid(let reason): return "pytorch: zip: ZIP64: \(reason)"
        case .zipBadEntry(let index, let reason): return "pytorch: zip: directory entry \(index): \(reason)"
        case .zipDuplicateEntry(let name): return "pytorch: zip: duplicate entry \"\(name)\""
        case .zipLocalHeaderMismatch(let name, let reason): return "pytorch: zip: entry \"\(name)\": local header \(reason)"
        case .zipEntryOutOfRange(let name, let offset, let size):
            return "pytorch: zip: entry \"\(name)\": \(size) bytes at \(offset) run outside the archive's entries"
        case .zipCompressedEntry(let name, let method):
            return "pytorch: zip: entry \"\(name)\" is compressed (method \(method)\(method == 8 ? ", deflate" : "")); torch stores entries uncompressed, so re-save it with torch.save"
        case .zipEncryptedEntry(let name): return "pytorch: zip: entry \"\(name)\" is encrypted"
        case .zipChecksumMismatch(let name): return "pytorch: zip: entry \"\(name)\": CRC-32 mismatch (corrupt data)"
        case .missingDataPickle: return "pytorch: zip: no <archive>/data.pkl entry (not a torch.save archive)"
        case .ambiguousDataPickle(let names): return "pytorch: zip: several data.pkl entries: \(names.joined(separator: ", "))"
        case .bigEndian: return "pytorch: the checkpoint was saved big-endian; only little-endian storages are read"
        case .invalidByteOrder(let text): return "pytorch: zip: byteorder is \"\(text)\" (expected \"little\")"
        case .badMagicNumber: return "pytorch: legacy format: the first pickle is not torch's magic number"
        case .unsupportedProtocolVersion(let v): return "pytorch: legacy format: protocol version \(v) (1001 is read)"
        case .unknownStorageKey(let key): return "pytorch: legacy format: storage list names \"\(key)\", which no tensor uses"
        case .duplicateStorageKey(let key): return "pytorch: legacy format: storage \"\(key)\" listed twice"
        case .truncatedStorage(let key): return "pytorch: legacy format: the file ends inside storage \"\(key)\""
        case .trailingBytes(let offset, let size): return "pytorch: legacy format: \(size - offset) bytes after the last storage (at \(offset))"
        case .pickleTruncated(let offset): return "pytorch: pickle ends inside the opcode at offset \(offset)"
        case .unknownOpcode(let op, let offset):
            let name = PickleMachine.opcodeNames[op].map { " (\($0))" } ?? " (not a pickle opcode)"
            return "pytorch: pickle opcode 0x\(String(format: "%02x", op))\(name) at offset \(offset) is not one a state dict uses"
        case .refusedGlobal(let name): return "pytorch: refusing global \(name): only tensor state dicts are loaded"
        case .malformedPickle(let reason, let offset): return "pytorch: pickle at offset \(offset): \(reason)"
        case .pickleLimit(let what, let limit, let offset): return "pytorch: pickle at offset \(offset): more than \(limit) \(what)"
        case .undefinedMemo(let index, let offset): return "pytorch: pickle at offset \(offset): memo index \(index) was never stored"
        case .unsupported(let what): return "pytorch: unsupported: \(what)"
        case .missingStorage(let key): return "pytorch: storage \"\(key)\" has no data in the file"
        case .invalidStorageSize(let key, let numel): return "pytorch: storage \"\(key)\": invalid element count \(numel)"
        case .inconsistentStorage(let key): return "pytorch: storage \"\(key)\" is declared twice with different types or sizes"
        case .storageSizeMismatch(let key, let expected, let actual):
            return "pytorch: storage \"\(key)\": declared size gives \(expected) bytes, the file holds \(actual)"
        case .negativeSize(let key, let size): return "pytorch: tensor on storage \"\(key)\": negative size \(size)"
        case .offsetOutOfRange(let key, let offset, let n):
            return "pytorch: tensor on storage \"\(key)\": offset \(offset) outside the storage's \(n) elements"
        case .viewOutOfRange(let key, let reaches, let n):
            return "pytorch: tensor on storage \"\(key)\": size and stride reach element \(reaches - 1), past the storage's \(n) elements"
        case .invalidTensor(let key, let reason): return "pytorch: tensor on storage \"\(key)\": \(reason)"
        case .tensorTooLarge(let name, let bytes):
            return "pytorch: tensor \"\(name)\" brings the checkpoint to \(bytes) bytes as float32, more than the \(Tensor.maxBytes)-byte limit"
        case .notAStateDict(let found): return "pytorch: the checkpoint holds \(found), not a dict of tensors (a state dict)"
        case .duplicateName(let name): return "pytorch: tensor name \"\(name)\" occurs twice"
        }
    }

    public var grlhfError: GRLHFError {
        switch self {
        case .io: return .io(description)
        case .tensorTooLarge: return .outOfMemory(description)
        case .zipMultiDisk, .zipCompressedEntry, .zipEncryptedEntry, .bigEndian, .unsupportedProtocolVersion,
             .refusedGlobal, .unsupported, .notAStateDict: return .unsupported(description)
        default: return .invalidFormat(description)
        }
    }
}

// MARK: - Formats

extension PyTorchCheckpoint {
    static func readZip(_ bytes: UnsafeRawBufferPointer) throws -> [(name: String, tensor: Tensor)] {
        let archive = try ZipArchive(bytes)
        let pickles = archive.names.filter { name in
            guard name.hasSuffix("/data.pkl") else { return false }
            return name.utf8.filter { $0 == UInt8(ascii: "/") }.count == 1 && name != "/data.pkl"
        }
        guard let pickleName = pickles.first else { throw PyTorchCheckpointError.missingDataPickle }
        guard pickles.count == 1 else { throw PyTorchCheckpointError.ambiguousDataPickle(pickles.sorted()) }
        let prefix = String(pickleName.dropLast("data.pkl".count))  // "archive/"
        if let order = try archive.contents(prefix + "byteorder") {
            let text = String(decoding: order, as: UTF8.self)
            guard text != "big" else { throw PyTorchCheckpointError.bigEndian }
            guard text == "little" else { throw PyTorchCheckpointError.invalidByteOrder(String(text.prefix(40))) }
        }
        guard let pickle = try archive.contents(pickleName) else { throw PyTorchCheckpointError.missingDataPickle }
        var machine = PickleMachine(pickle)
        let object = try machine.load()
        let data = try machine.storages.map { storage -> UnsafeRawBufferPointer in
            guard let raw = try archive.contents(prefix + "data/" + storage.key) else {
                throw PyTorchCheckpointError.missingStorage(key: storage.key)
            }
            let expected = storage.numel * storage.dtype.itemSize  // numel ≤ Int.max / 8
            guard raw.count == expected else {
                throw PyTorchCheckpointError.storageSizeMismatch(key: storage.key, expectedBytes: expected, actualBytes: raw.count)
            }
            return raw
        }
        return try materialize(object, storages: machine.storages, data: data)
    }

    static func readLegacy(_ bytes: UnsafeRawBufferPointer) throws -> [(name: String, tensor: Tensor)] {
        var machine = PickleMachine(bytes)
        guard case .bigInt(let magic) = try machine.load(), magic == legacyMagic else {
            throw PyTorchCheckpointError.badMagicNumber
        }
        let version = try machine.load()
        guard case .int(legacyProtocolVersion) = version else {
            if case .int(let v) = version { throw PyTorchCheckpointError.unsupportedProtocolVersion("\(v)") }
            throw PyTorchCheckpointError.unsupportedProtocolVersion(version.typeName)
        }
        guard case .dict(let sysInfo) = try machine.load() else {
            throw PyTorchCheckpointError.malformedPickle(reason: "sys_info is not a dict", offset: machine.position)
        }
        if case .bool(false) = sysInfo["little_endian"] { throw PyTorchCheckpointError.bigEndian }
        machine.storages = []  // only the object's persistent ids count
        machine.storageIndex = [:]
        let object = try machine.load()
        let listOffset = machine.position
        let storages = machine.storages, storageIndex = machine.storageIndex
        guard case .list(let keyList) = try machine.load() else {
            throw PyTorchCheckpointError.malformedPickle(reason: "the storage key list is not a list", offset: listOffset)
        }
        var listed = Set<String>()
        var order: [Int] = []
        for item in keyList.items {
            guard case .string(let key) = item else {
                throw PyTorchCheckpointError.malformedPickle(reason: "the storage key list holds \(item.typeName)", offset: listOffset)
            }
            guard listed.insert(key).inserted else { throw PyTorchCheckpointError.duplicateStorageKey(key) }
            guard let index = storageIndex[key] else { throw PyTorchCheckpointError.unknownStorageKey(key) }
            order.append(index)
        }
        if let missing = storages.first(where: { !listed.contains($0.key) }) {
            throw PyTorchCheckpointError.missingStorage(key: missing.key)
        }
        var position = machine.position
        var data = [UnsafeRawBufferPointer](repeating: UnsafeRawBufferPointer(start: nil, count: 0), count: storages.count)
        for index in order {
            let storage = storages[index]
            guard 8 <= bytes.count - position else { throw PyTorchCheckpointError.truncatedStorage(key: storage.key) }
            let numel = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: Int64.self))
            position += 8
            let expected = storage.numel * storage.dtype.itemSize
            guard numel == Int64(storage.numel) else {
                let (actual, overflow) = Int(truncatingIfNeeded: numel).multipliedReportingOverflow(by: storage.dtype.itemSize)
                throw PyTorchCheckpointError.storageSizeMismatch(key: storage.key, expectedBytes: expected,
                                                                 actualBytes: overflow ? Int.max : actual)
            }
            guard expected <= bytes.count - position else { throw PyTorchCheckpointError.truncatedStorage(key: storage.key) }
            data[index] = UnsafeRawBufferPointer(rebasing: bytes[position ..< position + expected])
            position += expected
        }
        guard position == bytes.count else { throw PyTorchCheckpointError.trailingBytes(offset: position, fileSize: bytes.count) }
        return try materialize(object, storages: storages, data: data)
    }
}

// MARK: - Tensors

extension PyTorchCheckpoint {
    /// Names the tensors of the state dict `object` and copies each out of its storage bytes.
    static func materialize(_ object: PickleValue, storages: [PickleStorage],
                            data: [UnsafeRawBufferPointer]) throws -> [(name: String, tensor: Tensor)] {
        guard case .dict(let root) = object else { throw PyTorchCheckpointError.notAStateDict(object.typeName) }
        var found: [(name: String, tensor: PickleTensor)] = []
        var names = Set<String>()
        func collect(_ dict: PickleDict, prefix: String) throws {  // depth ≤ PickleMachine.maxHeight
            for (key, value) in dict.entries {
                let name: String
                switch key {
                case .string(let s): name = prefix + s
                case .int(let i): name = prefix + String(i)
                default: continue
                }
                switch value {
                case .tensor(let t):
                    guard names.insert(name).inserted else { throw PyTorchCheckpointError.duplicateName(name) }
                    found.append((name, t))
                case .dict(let inner): try collect(inner, prefix: name + ".")
                default: continue  // not a weight
                }
            }
        }
        try collect(root, prefix: "")
        // Views can repeat one storage many times over, so bound the total before allocating.
        var total = 0
        for (name, t) in found {
            let (bytes, o1) = t.count.multipliedReportingOverflow(by: 4)
            let (sum, o2) = total.addingReportingOverflow(bytes)
            guard !o1, !o2, sum <= Tensor.maxBytes else {
                throw PyTorchCheckpointError.tensorTooLarge(name: name, bytes: o1 || o2 ? Int.max : sum)
            }
            total = sum
        }
        return found.map { name, t in
            let out = Tensor(uninitialized: t.size)
            gather(t, dtype: storages[t.storage].dtype, from: data[t.storage], into: out.data)
            return (name, out)
        }
    }

    /// Copies the (validated) view `t` of a storage into `out`, row-major, converting to Float.
    static func gather(_ t: PickleTensor, dtype: TorchDType, from bytes: UnsafeRawBufferPointer,
                       into out: UnsafeMutablePointer<Float>) {
        guard t.count > 0, let base = bytes.baseAddress else { return }
        if dtype == .float32 && isContiguous(t) {
            UnsafeMutableRawPointer(out).copyMemory(from: base + 4 * t.offset, byteCount: 4 * t.count)
            return
        }
        func u16(_ i: Int) -> UInt16 { UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        switch dtype {
        case .float32: walk(t, out) { Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        case .float64: walk(t, out) { Float(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)))) }
        case .float16: walk(t, out) { Float(Float16(bitPattern: u16($0))) }  // exact
        case .bfloat16: walk(t, out) { Float(bitPattern: UInt32(u16($0)) << 16) }  // the top half of a float32
        case .int64: walk(t, out) { Float(Int64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))) }
        case .int32: walk(t, out) { Float(Int32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
        case .int16: walk(t, out) { Float(Int16(bitPattern: u16($0))) }
        case .int8: walk(t, out) { Float(Int8(bitPattern: base.load(fromByteOffset: $0, as: UInt8.self))) }
        case .uint8: walk(t, out) { Float(base.load(fromByteOffset: $0, as: UInt8.self)) }
        case .bool: walk(t, out) { base.load(fromByteOffset: $0, as: UInt8.self) == 0 ? 0 : 1 }
        }
    }

    static func isContiguous(_ t: PickleTensor) -> Bool {
        var expected = 1
        for (n, s) in zip(t.size, t.stride).reversed() where n != 1 {  // a size-1 dimension's stride is free
            guard s == expected else { return false }
            expected *= n
        }
        return true
    }

    /// Calls `element(storage index)` for every element of `t` in row-major order.
    @inline(__always)
    static func walk(_ t: PickleTensor, _ out: UnsafeMutablePointer<Float>, _ element: (Int) -> Float) {
        guard let inner = t.size.last, let innerStride = t.stride.last else {
            out[0] = element(t.offset)  // 0-d
            return
        }
        let outer = t.size.dropLast(), outerStride = Array(t.stride.dropLast())
        var index = [Int](repeating: 0, count: outer.count)
        var start = t.offset
        var k = 0
        for _ in 0 ..< t.count / inner {  // count > 0, so inner > 0
            var at = start
            for _ in 0 ..< inner {
                out[k] = element(at)
                k += 1
                at += innerStride
            }
            // Odometer step over the outer dimensions.
            var d = outer.count - 1
            while d >= 0 {
                index[d] += 1
                start += outerStride[d]
                if index[d] < outer[outer.startIndex + d] { break }
                start -= outerStride[d] * index[d]
                index[d] = 0
                d -= 1
            }
        }
    }
}

// MARK: - Zip

/// The central directory of a zip archive, validated; entries are read lazily.
struct ZipArchive {
    struct Entry {
        let offset: Int  // of the data
        let size: Int
        let crc: UInt32
    }

    let bytes: UnsafeRawBufferPointer
    private(set) var names: [String] = []
    private var entries: [String: Entry] = [:]

    init(_ bytes: UnsafeRawBufferPointer) throws {
        self.bytes = bytes
        let size = bytes.count
        // The end record is the last 22 bytes plus a comment of up to 65535 bytes.
        var end = -1
        var candidate = size - 22
        while candidate >= 0 && candidate >= size - 22 - 0xFFFF {
            if u32(candidate) == 0x0605_4B50 && candidate + 22 + Int(u16(candidate + 20)) == size { end = candidate; break }
            candidate -= 1
        }
        guard end >= 0 else { throw PyTorchCheckpointError.zipNoEndOfDirectory }
        var disk = UInt32(u16(end + 4)), directoryDisk = UInt32(u16(end + 6))
        var diskEntries = UInt64(u16(end + 8)), count = UInt64(u16(end + 10))
        var directorySize = UInt64(u32(end + 12)), directoryOffset = UInt64(u32(end + 16))
        var limit = end  // the directory must end before the records that follow it
        if count == 0xFFFF || diskEntries == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            let locator = end - 20
            guard locator >= 0, u32(locator) == 0x0706_4B50 else {
                throw PyTorchCheckpointError.zip64Invalid("no locator before the end record")
            }
            let record = u64(locator + 8)
            guard locator >= 56, record <= UInt64(locator - 56) else {
                throw PyTorchCheckpointError.zip64Invalid("end record offset \(record) outside the file")
            }
            let r = Int(record)
            guard u32(r) == 0x0606_4B50 else { throw PyTorchCheckpointError.zip64Invalid("no end record at \(record)") }
            disk = u32(r + 16)
            directoryDisk = u32(r + 20)
            diskEntries = u64(r + 24)
            count = u64(r + 32)
            directorySize = u64(r + 40)
            directoryOffset = u64(r + 48)
            limit = r
        }
        guard disk == 0, directoryDisk == 0, diskEntries == count else { throw PyTorchCheckpointError.zipMultiDisk }
        guard directoryOffset <= UInt64(limit), directorySize <= UInt64(limit) - directoryOffset else {
            throw PyTorchCheckpointError.zipDirectoryOutOfRange(offset: directoryOffset, size: directorySize, limit: limit)
        }
        guard count <= directorySize / 46 else {
            throw PyTorchCheckpointError.zipBadEntry(index: 0, reason: "\(count) entries cannot fit a \(directorySize)-byte directory")
        }
        let dataLimit = Int(directoryOffset)  // entries lie before the directory
        var p = dataLimit
        let directoryEnd = dataLimit + Int(directorySize)
        for index in 0 ..< Int(count) {
            func bad(_ reason: String) -> PyTorchCheckpointError { .zipBadEntry(index: index, reason: reason) }
            guard 46 <= directoryEnd - p, u32(p) == 0x0201_4B50 else { throw bad("no central directory record at \(p)") }
            let flags = u16(p + 8), method = u16(p + 10), crc = u32(p + 16)
            var compressed = UInt64(u32(p + 20)), uncompressed = UInt64(u32(p + 24))
            let nameLength = Int(u16(p + 28)), extraLength = Int(u16(p + 30)), commentLength = Int(u16(p + 32))
            var local = UInt64(u32(p + 42))
            guard nameLength + extraLength + commentLength <= directoryEnd - p - 46 else { throw bad("name and extra fields run past the directory") }
            let nameBytes = UnsafeRawBufferPointer(rebasing: bytes[p + 46 ..< p + 46 + nameLength])
            guard let name = String(validating: nameBytes.bindMemory(to: UInt8.self), as: UTF8.self) else {
                throw bad("name is not UTF-8")
            }
            // ZIP64 extra field: the 8-byte values of the 32-bit fields that are 0xFFFFFFFF, in order.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while extraEnd - e >= 4 {
                let id = u16(e), length = Int(u16(e + 2))
                guard length <= extraEnd - e - 4 else { throw bad("extra field runs past its record") }
                if id == 0x0001 {
                    var q = e + 4
                    func next() throws -> UInt64 {
                        guard 8 <= e + 4 + length - q else {
                            throw PyTorchCheckpointError.zip64Invalid("extra field of \"\(name)\" too short")
                        }
                        defer { q += 8 }
                        return u64(q)
                    }
                    if uncompressed == 0xFFFF_FFFF { uncompressed = try next() }
                    if compressed == 0xFFFF_FFFF { compressed = try next() }
                    if local == 0xFFFF_FFFF { local = try next() }
                }
                e += 4 + length
            }
            p += 46 + nameLength + extraLength + commentLength
            guard flags & 1 == 0 else { throw PyTorchCheckpointError.zipEncryptedEntry(name) }
            guard method == 0 else { throw PyTorchCheckpointError.zipCompressedEntry(name: name, method: method) }
            guard compressed == uncompressed else { throw bad("stored entry \"\(name)\" with \(compressed) ≠ \(uncompressed) bytes") }
            guard local <= UInt64(dataLimit), 30 <= dataLimit - Int(local) else {
                throw PyTorchCheckpointError.zipLocalHeaderMismatch(name: name, reason: "at \(local) lies outside the archive's entries")
            }
            let l = Int(local)
            guard u32(l) == 0x0403_4B50 else { throw PyTorchCheckpointError.zipLocalHeaderMismatch(name: name, reason: "at \(l) has no signature") }
            guard u16(l + 8) == 0 else { throw PyTorchCheckpointError.zipLocalHeaderMismatch(name: name, reason: "says the entry is compressed") }
            let localName = Int(u16(l + 26)), localExtra = Int(u16(l + 28))
            guard localName == nameLength, localName + localExtra <= dataLimit - l - 30,
                  Array(bytes[l + 30 ..< l + 30 + localName]) == Array(nameBytes) else {
                throw PyTorchCheckpointError.zipLocalHeaderMismatch(name: name, reason: "at \(l) names another entry")
            }
            let start = l + 30 + localName + localExtra
            guard uncompressed <= UInt64(dataLimit - start) else {
                throw PyTorchCheckpointError.zipEntryOutOfRange(name: name, offset: UInt64(start), size: uncompressed)
            }
            guard entries[name] == nil else { throw PyTorchCheckpointError.zipDuplicateEntry(name) }
            entries[name] = Entry(offset: start, size: Int(uncompressed), crc: crc)
            names.append(name)
        }
    }

    /// An entry's bytes after checking its CRC-32, or nil if there is no such entry.
    func contents(_ name: String) throws -> UnsafeRawBufferPointer? {
        guard let entry = entries[name] else { return nil }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[entry.offset ..< entry.offset + entry.size])
        guard CRC32.checksum(raw) == entry.crc else { throw PyTorchCheckpointError.zipChecksumMismatch(name) }
        return raw
    }

    // Callers have checked that the field lies inside the buffer.
    private func u16(_ at: Int) -> UInt16 { UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self)) }
    private func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
    private func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
}

/// CRC-32 (IEEE 802.3, as zip uses), eight bytes per step ("slicing by 8").
enum CRC32 {
    /// Eight 256-entry tables, one after another.
    static let table: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0 ..< 256 {
            var c = UInt32(i)
            for _ in 0 ..< 8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[i] = c
        }
        for k in 1 ..< 8 {
            for i in 0 ..< 256 { t[k * 256 + i] = (t[(k - 1) * 256 + i] >> 8) ^ t[Int(t[(k - 1) * 256 + i] & 0xFF)] }
        }
        return t
    }()

    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        table.withUnsafeBufferPointer { t in
            var c: UInt32 = 0xFFFF_FFFF
            var i = 0
            let n = bytes.count
            while n - i >= 8 {
                let lo = c ^ UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self))
                let hi = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))
                c = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                c = t[Int((c ^ UInt32(bytes[i])) & 0xFF)] ^ (c >> 8)
                i += 1
            }
            return ~c
        }
    }
}
