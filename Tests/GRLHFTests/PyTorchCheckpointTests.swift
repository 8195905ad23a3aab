import Foundation
@testable import GRLHF
import Testing

/// Fixtures made by Fixtures/pytorch/make_pytorch_fixtures.py with torch 2.13.0 (see its docstring).
private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/pytorch")
private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
private let efficientNetPath = root.appendingPathComponent(".cache/models/efficientnet-lite0-57934424.pth").path

private func path(_ name: String) -> String { fixtures.appendingPathComponent(name).path }
private func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: fixtures.appendingPathComponent(name))) }

private func expected(_ name: String) throws -> [String: Tensor] {
    Dictionary(uniqueKeysWithValues: try Safetensors.read(contentsOf: path(name)).map { ($0.name, $0.tensor) })
}

/// The error decoding `b` throws, recording an issue if it loads or throws something else.
private func loadError(_ b: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> PyTorchCheckpointError? {
    do {
        _ = try PyTorchCheckpoint.decode(b)
        Issue.record("loaded a corrupt checkpoint", sourceLocation: sourceLocation)
    } catch let e as PyTorchCheckpointError {
        return e
    } catch {
        Issue.record("not a PyTorchCheckpointError: \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

private func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

/// Every index where `needle` occurs in `haystack`.
private func occurrences(_ needle: [UInt8], in haystack: [UInt8]) -> [Int] {
    guard haystack.count >= needle.count else { return [] }
    return (0 ... haystack.count - needle.count).filter { Array(haystack[$0 ..< $0 + needle.count]) == needle }
}

// MARK: - Hand-made checkpoints

/// A protocol-2 pickle written opcode by opcode.
private struct Pickle {
    var b: [UInt8] = [0x80, 2]
    mutating func op(_ c: Character) { b.append(c.asciiValue!) }
    mutating func raw(_ x: [UInt8]) { b += x }
    mutating func str(_ s: String) { op("X"); b += le(UInt32(s.utf8.count)) + Array(s.utf8) }
    mutating func int(_ i: Int32) { op("J"); b += le(i) }
    mutating func global(_ module: String, _ name: String) { op("c"); b += Array("\(module)\n\(name)\n".utf8) }
    mutating func ints(_ xs: [Int]) { op("("); for x in xs { int(Int32(x)) }; op("t") }
    /// `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`.
    mutating func tensor(key: String, type: String = "FloatStorage", numel: Int, offset: Int, size: [Int], stride: [Int]) {
        global("torch._utils", "_rebuild_tensor_v2")
        op("(")
        op("("); str("storage"); global("torch", type); str(key); str("cpu"); int(Int32(numel)); op("t"); op("Q")
        int(Int32(offset)); ints(size); ints(stride); b.append(0x89)
        global("collections", "OrderedDict"); op(")"); op("R")
        op("t"); op("R")
    }
    /// `{name: tensor}` for each given tensor writer, then STOP.
    static func stateDict(_ tensors: [(String, (inout Pickle) -> Void)]) -> [UInt8] {
        var p = Pickle()
        p.op("}"); p.op("(")
        for (name, write) in tensors { p.str(name); write(&p) }
        p.op("u"); p.op(".")
        return p.b
    }
    static func value(_ write: (inout Pickle) -> Void) -> [UInt8] {
        var p = Pickle()
        write(&p)
        p.op(".")
        return p.b
    }
}

/// One float32 tensor "w" of `size`/`stride`/`offset` on a storage "0" of `numel` elements.
private func oneTensor(numel: Int, offset: Int = 0, size: [Int], stride: [Int]) -> [UInt8] {
    Pickle.stateDict([("w", { $0.tensor(key: "0", numel: numel, offset: offset, size: size, stride: stride) })])
}

private func floats(_ xs: [Float]) -> [UInt8] { xs.flatMap { le($0.bitPattern) } }

/// A stored zip as torch writes it; with `zip64`, the directory is found through a ZIP64 end
/// record and every local header offset through a ZIP64 extra field.
private func zipArchive(_ entries: [(String, [UInt8])], zip64: Bool = false) -> [UInt8] {
    var out: [UInt8] = [], directory: [UInt8] = []
    for (name, data) in entries {
        let crc = data.withUnsafeBytes { CRC32.checksum($0) }
        let n = Array(name.utf8), offset = out.count
        out += le(UInt32(0x0403_4B50)) + le(UInt16(20)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt32(0)) + le(crc)
            + le(UInt32(data.count)) + le(UInt32(data.count)) + le(UInt16(n.count)) + le(UInt16(0)) + n + data
        let extra = zip64 ? le(UInt16(1)) + le(UInt16(8)) + le(UInt64(offset)) : []
        directory += le(UInt32(0x0201_4B50)) + le(UInt16(20)) + le(UInt16(20)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt32(0))
            + le(crc) + le(UInt32(data.count)) + le(UInt32(data.count)) + le(UInt16(n.count)) + le(UInt16(extra.count))
            + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt32(0)) + le(zip64 ? UInt32.max : UInt32(offset)) + n + extra
    }
    let directoryOffset = out.count
    out += directory
    if zip64 {
        let record = out.count
        out += le(UInt32(0x0606_4B50)) + le(UInt64(44)) + le(UInt16(45)) + le(UInt16(45)) + le(UInt32(0)) + le(UInt32(0))
            + le(UInt64(entries.count)) + le(UInt64(entries.count)) + le(UInt64(directory.count)) + le(UInt64(directoryOffset))
        out += le(UInt32(0x0706_4B50)) + le(UInt32(0)) + le(UInt64(record)) + le(UInt32(1))
        return out + le(UInt32(0x0605_4B50)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0xFFFF)) + le(UInt16(0xFFFF))
            + le(UInt32.max) + le(UInt32.max) + le(UInt16(0))
    }
    return out + le(UInt32(0x0605_4B50)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(entries.count)) + le(UInt16(entries.count))
        + le(UInt32(directory.count)) + le(UInt32(directoryOffset)) + le(UInt16(0))
}

private func torchZip(_ pickle: [UInt8], storages: [(String, [UInt8])], byteorder: String? = "little", zip64: Bool = false) -> [UInt8] {
    var entries = [("archive/data.pkl", pickle)]
    if let byteorder { entries.append(("archive/byteorder", Array(byteorder.utf8))) }
    entries += storages.map { ("archive/data/\($0.0)", $0.1) }
    entries.append(("archive/version", Array("3\n".utf8)))
    return zipArchive(entries, zip64: zip64)
}

/// The legacy layout: magic, protocol, sys_info, object, key list, then per key numel and bytes.
private func legacyFile(_ object: [UInt8], keys: [String], storages: [(numel: Int64, bytes: [UInt8])],
                        magic: [UInt8] = PyTorchCheckpoint.legacyMagic, version: Int32 = 1001, littleEndian: Bool = true) -> [UInt8] {
    let magicPickle = Pickle.value { $0.b.append(0x8A); $0.b.append(UInt8(magic.count)); $0.raw(magic) }
    let versionPickle = Pickle.value { $0.int(version) }
    let sysInfo = Pickle.value { $0.op("}"); $0.str("little_endian"); $0.b.append(littleEndian ? 0x88 : 0x89); $0.op("s") }
    let keyList = Pickle.value { p in p.op("]"); p.op("("); for k in keys { p.str(k) }; p.op("e") }
    return magicPickle + versionPickle + sysInfo + object + keyList + storages.flatMap { le($0.numel) + $0.bytes }
}

// MARK: - Tests

@Suite struct PyTorchCheckpointTests {
    static let mixedNames = ["f32", "transposed", "columns", "flat", "offset_view", "row", "f16", "bf16", "f64", "f64_view",
                             "i64", "i32", "i16", "i8", "u8", "bool", "scalar", "empty", "param", "nested.inner", "nested.deeper.w"]

    /// Every dtype, views (transposed, strided, offset, several on one storage), a 0-d and an empty
    /// tensor, a Parameter and a nested dict load bit for bit as torch's `t.float().contiguous()`;
    /// non-tensor values are skipped.
    @Test(arguments: ["mixed_zip.pth", "mixed_legacy.pth"])
    func everyDtypeAndViewMatchesTorch(file: String) throws {
        let loaded = try PyTorchCheckpoint.read(contentsOf: path(file))
        let want = try expected("mixed_expected.safetensors")
        #expect(loaded.map(\.name) == Self.mixedNames)
        for (name, tensor) in loaded {
            let w = try #require(want[name], "\(name)")
            #expect(tensor.shape == w.shape, "\(name)")
            #expect(tensor.scalars.map(\.bitPattern) == w.scalars.map(\.bitPattern), "\(name): \(tensor.scalars) vs \(w.scalars)")
        }
        let byName = Dictionary(uniqueKeysWithValues: loaded)
        #expect(byName["scalar"]?.shape == [] && byName["scalar"]?.item == 3.5)
        #expect(byName["transposed"]?.scalars == byName["f32"].map { t in (0 ..< 4).flatMap { c in (0 ..< 3).map { t.scalars[$0 * 4 + c] } } })
        #expect(byName["i64"]?.scalars == [-3, 0, 7, Float(1 << 40), -Float(1 << 62)])
        #expect(byName["bool"]?.scalars == [1, 0, 1])
    }

    /// An nn.Module state_dict (OrderedDict with `_metadata` set by BUILD) in both formats.
    @Test(arguments: ["module_zip.pth", "module_legacy.pth"])
    func moduleStateDict(file: String) throws {
        let loaded = try PyTorchCheckpoint.read(contentsOf: path(file))
        let want = try expected("module_expected.safetensors")
        #expect(loaded.map(\.name) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked"])
        for (name, tensor) in loaded {
            #expect(tensor.shape == want[name]?.shape && tensor.scalars == want[name]?.scalars, "\(name)")
        }
        #expect(Dictionary(uniqueKeysWithValues: loaded)["1.num_batches_tracked"]?.scalars == [1])
    }

    /// The same checkpoint rebuilt by hand as a ZIP64 archive (end record, locator and extra
    /// fields) loads the same.
    @Test func zip64Archive() throws {
        let pickle = oneTensor(numel: 6, offset: 1, size: [2, 2], stride: [1, 2])
        let data = floats([0, 1, 2, 3, 4, 5])
        for zip64 in [false, true] {
            let loaded = try PyTorchCheckpoint.decode(torchZip(pickle, storages: [("0", data)], zip64: zip64))
            #expect(loaded.count == 1 && loaded[0].name == "w" && loaded[0].tensor.shape == [2, 2])
            #expect(loaded[0].tensor.scalars == [1, 3, 2, 4])
        }
        let legacy = try PyTorchCheckpoint.decode(legacyFile(pickle, keys: ["0"], storages: [(6, data)]))
        #expect(legacy[0].tensor.scalars == [1, 3, 2, 4])
    }

    /// Pickles that would run code, and a whole nn.Module, are refused by the global's name before
    /// anything else is read.
    @Test func refusesEveryOtherGlobalByName() throws {
        let marker = "/tmp/grlhf_pwned_pth"
        try? FileManager.default.removeItem(atPath: marker)
        let cases = [
            ("evil_os_system.pkl", "os.system"), ("evil_posix_system.pkl", "posix.system"),
            ("evil_eval_p4.pkl", "builtins.eval"), ("evil_getattr.pkl", "__builtin__.getattr"),
            ("evil_zip.pth", "posix.system"),
            ("linear_zip.pth", "torch.nn.modules.linear.Linear"), ("linear_legacy.pth", "torch.nn.modules.linear.Linear"),
        ]
        for (file, global) in cases {
            #expect(throws: PyTorchCheckpointError.refusedGlobal(global), "\(file)") { try PyTorchCheckpoint.read(contentsOf: path(file)) }
        }
        #expect(PyTorchCheckpointError.refusedGlobal("os.system").description
            == "pytorch: refusing global os.system: only tensor state dicts are loaded")
        #expect(PyTorchCheckpointError.refusedGlobal("os.system").grlhfError == .unsupported(PyTorchCheckpointError.refusedGlobal("os.system").description))
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    /// Each corruption of a tensor, storage or pickle has its own error.
    @Test func tensorStorageAndPickleCorruptions() throws {
        let six = floats([0, 1, 2, 3, 4, 5])
        func zipError(_ pickle: [UInt8], _ storages: [(String, [UInt8])]? = nil, byteorder: String? = "little") -> PyTorchCheckpointError? {
            loadError(torchZip(pickle, storages: storages ?? [("0", six)], byteorder: byteorder))
        }
        #expect(zipError(oneTensor(numel: 6, size: [10], stride: [1])) == .viewOutOfRange(storage: "0", reaches: 10, storageElements: 6))
        #expect(zipError(oneTensor(numel: 6, size: [2, 3], stride: [3, 2])) == .viewOutOfRange(storage: "0", reaches: 8, storageElements: 6))
        #expect(zipError(oneTensor(numel: 6, offset: 7, size: [1], stride: [1])) == .offsetOutOfRange(storage: "0", offset: 7, storageElements: 6))
        #expect(zipError(oneTensor(numel: 6, offset: 6, size: [1], stride: [1])) == .viewOutOfRange(storage: "0", reaches: 7, storageElements: 6))
        #expect(zipError(oneTensor(numel: 6, offset: -1, size: [1], stride: [1])) == .offsetOutOfRange(storage: "0", offset: -1, storageElements: 6))
        #expect(zipError(oneTensor(numel: 6, size: [-1, 2], stride: [1, 1])) == .negativeSize(storage: "0", size: [-1, 2]))
        if case .invalidTensor(_, let reason) = zipError(oneTensor(numel: 6, size: [2], stride: [-1])) { #expect(reason.contains("negative stride")) } else { Issue.record("negative stride") }
        if case .invalidTensor(_, let reason) = zipError(oneTensor(numel: 6, size: [2], stride: [1, 1])) { #expect(reason.contains("rank")) } else { Issue.record("rank mismatch") }
        #expect(zipError(oneTensor(numel: -1, size: [1], stride: [1])) == .invalidStorageSize(key: "0", numel: -1))
        #expect(zipError(oneTensor(numel: 7, size: [1], stride: [1])) == .storageSizeMismatch(key: "0", expectedBytes: 28, actualBytes: 24))
        #expect(zipError(oneTensor(numel: 6, size: [1], stride: [1]), []) == .missingStorage(key: "0"))
        #expect(zipError(oneTensor(numel: 6, size: [1], stride: [1]), byteorder: "big") == .bigEndian)
        #expect(zipError(oneTensor(numel: 6, size: [1], stride: [1]), byteorder: "middle") == .invalidByteOrder("middle"))
        // A size-0 view may sit anywhere up to the storage's end; a zero-stride view repeats an element.
        let empty = try PyTorchCheckpoint.decode(torchZip(oneTensor(numel: 6, offset: 6, size: [0, 4], stride: [4, 1]), storages: [("0", six)]))
        #expect(empty[0].tensor.shape == [0, 4])
        let broadcast = try PyTorchCheckpoint.decode(torchZip(oneTensor(numel: 6, offset: 5, size: [3], stride: [0]), storages: [("0", six)]))
        #expect(broadcast[0].tensor.scalars == [5, 5, 5])

        // Two tensors that disagree about one storage; a name that flattening produces twice.
        let twoViews = Pickle.stateDict([
            ("a", { $0.tensor(key: "0", numel: 6, offset: 0, size: [1], stride: [1]) }),
            ("b", { $0.tensor(key: "0", numel: 5, offset: 0, size: [1], stride: [1]) }),
        ])
        #expect(zipError(twoViews) == .inconsistentStorage(key: "0"))
        var duplicate = Pickle()
        duplicate.op("}"); duplicate.op("(")
        duplicate.str("a.b"); duplicate.tensor(key: "0", numel: 6, offset: 0, size: [1], stride: [1])
        duplicate.str("a"); duplicate.op("}"); duplicate.str("b"); duplicate.tensor(key: "0", numel: 6, offset: 1, size: [1], stride: [1]); duplicate.op("s")
        duplicate.op("u"); duplicate.op(".")
        #expect(zipError(duplicate.b) == .duplicateName("a.b"))
        #expect(zipError(Pickle.value { $0.op("]") }) == .notAStateDict("a list"))
        #expect(zipError(Array(oneTensor(numel: 6, size: [1], stride: [1]).dropLast(2)) + [0x2E]) != nil)  // SETITEMS missing

        // Pickle machine errors: offsets are within data.pkl.
        #expect(zipError(Pickle.value { $0.op("}"); $0.op("j"); $0.raw(le(UInt32.max)) }) == .undefinedMemo(index: UInt32.max, offset: 3))
        #expect(zipError(Pickle.value { $0.op("}"); $0.b.append(0x81) }) == .unknownOpcode(opcode: 0x81, offset: 3))
        #expect(PyTorchCheckpointError.unknownOpcode(opcode: 0x81, offset: 3).description
            == "pytorch: pickle opcode 0x81 (NEWOBJ) at offset 3 is not one a state dict uses")
        #expect(zipError([0x80, 2, 0x7D, 0x58, 0xFF, 0, 0, 0, 0x61]) == .pickleTruncated(offset: 3))  // BINUNICODE of 255 bytes
        #expect(zipError([0x80, 2, 0x7D]) == .pickleTruncated(offset: 3))  // no STOP
        var deep = Pickle()
        deep.op(")"); for _ in 0 ..< 100 { deep.b.append(0x85) }  // a tuple nested 100 deep
        deep.op(".")
        #expect(zipError(deep.b) == .pickleLimit(what: "nesting levels", limit: PickleMachine.maxHeight, offset: 2 + 1 + PickleMachine.maxHeight - 1))
        // l = []; l.append(l): would be a cycle.
        if case .malformedPickle(let reason, _) = zipError([0x80, 2, 0x5D, 0x71, 0, 0x68, 0, 0x61, 0x2E]) {
            #expect(reason.contains("recursive"))
        } else { Issue.record("recursive list") }
        if case .malformedPickle(let reason, _) = zipError(Pickle.value { $0.global("torch._utils", "_rebuild_tensor_v2"); $0.op(")"); $0.op("R") }) {
            #expect(reason.contains("0 arguments"))
        } else { Issue.record("bad rebuild arguments") }
        if case .malformedPickle(let reason, _) = zipError(Pickle.value { $0.global("torch", "FloatStorage"); $0.op(")"); $0.op("R") }) {
            #expect(reason.contains("persistent id"))
        } else { Issue.record("storage called") }
        #expect(zipError(Pickle.value { $0.global("torch", "ComplexFloatStorage") }).map { if case .unsupported = $0 { true } else { false } } == true)
        #expect(zipError(Pickle.value { $0.op("}"); $0.op("0"); $0.op("0") }) == .malformedPickle(reason: "stack underflow", offset: 4))
    }

    /// Corruptions of the legacy layout around the pickles.
    @Test func legacyLayoutCorruptions() throws {
        let pickle = oneTensor(numel: 6, size: [6], stride: [1])
        let six = floats([0, 1, 2, 3, 4, 5])
        #expect(try PyTorchCheckpoint.decode(legacyFile(pickle, keys: ["0"], storages: [(6, six)]))[0].tensor.scalars == [0, 1, 2, 3, 4, 5])
        #expect(loadError(legacyFile(pickle, keys: ["0"], storages: [(6, six)], magic: [1, 2, 3, 4, 5, 6, 7, 8, 9])) == .badMagicNumber)
        #expect(loadError(legacyFile(pickle, keys: ["0"], storages: [(6, six)], version: 1000)) == .unsupportedProtocolVersion("1000"))
        #expect(loadError(legacyFile(pickle, keys: ["0"], storages: [(6, six)], littleEndian: false)) == .bigEndian)
        #expect(loadError(legacyFile(pickle, keys: ["0"], storages: [(7, six + floats([6]))])) == .storageSizeMismatch(key: "0", expectedBytes: 24, actualBytes: 28))
        #expect(loadError(legacyFile(pickle, keys: ["0"], storages: [(6, Array(six.prefix(20)))])) == .truncatedStorage(key: "0"))
        #expect(loadError(legacyFile(pickle, keys: ["0"], storages: [(6, six + [0])])) == .trailingBytes(offset: legacyFile(pickle, keys: ["0"], storages: [(6, six)]).count, fileSize: legacyFile(pickle, keys: ["0"], storages: [(6, six)]).count + 1))
        #expect(loadError(legacyFile(pickle, keys: ["0", "0"], storages: [(6, six)])) == .duplicateStorageKey("0"))
        #expect(loadError(legacyFile(pickle, keys: ["0", "9"], storages: [(6, six)])) == .unknownStorageKey("9"))
        #expect(loadError(legacyFile(pickle, keys: [], storages: [])) == .missingStorage(key: "0"))
        #expect(loadError([]) == .notACheckpoint([]))
        #expect(loadError(Array("GGUF\u{3}".utf8)) == .notACheckpoint(Array("GGUF".utf8)))
    }

    /// Corruptions of the zip container, made by editing torch's own archive.
    @Test func zipContainerCorruptions() throws {
        let good = try bytes("module_zip.pth")
        #expect(try PyTorchCheckpoint.decode(good).count == 7)
        let end = good.count - 22
        #expect(Array(good[end ..< end + 4]) == le(UInt32(0x0605_4B50)))
        let directory = Int(UInt32(littleEndian: good.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: end + 16, as: UInt32.self) }))

        var b = good  // the directory offset past the end record
        b.replaceSubrange(end + 16 ..< end + 20, with: le(UInt32(good.count)))
        if case .zipDirectoryOutOfRange = loadError(b) {} else { Issue.record("directory offset") }
        b = good  // the first entry (data.pkl) deflated
        b.replaceSubrange(directory + 10 ..< directory + 12, with: le(UInt16(8)))
        #expect(loadError(b) == .zipCompressedEntry(name: "module_zip/data.pkl", method: 8))
        #expect(PyTorchCheckpointError.zipCompressedEntry(name: "x", method: 8).description.contains("deflate"))
        b = good  // its local header offset moved
        b.replaceSubrange(directory + 42 ..< directory + 46, with: le(UInt32(1)))
        if case .zipLocalHeaderMismatch(let name, _) = loadError(b) { #expect(name == "module_zip/data.pkl") } else { Issue.record("local header") }
        b = good  // the storage entry data/0 renamed data/Z, in the directory and its local header
        for i in occurrences(Array("module_zip/data/0".utf8), in: good) { b[i + 16] = UInt8(ascii: "Z") }
        #expect(loadError(b) == .missingStorage(key: "0"))
        b = good  // no data.pkl
        for i in occurrences(Array("module_zip/data.pkl".utf8), in: good) { b[i + 11] = UInt8(ascii: "D") }
        #expect(loadError(b) == .missingDataPickle)
        b = good  // a flipped bit in a storage
        let storage = occurrences(Array("module_zip/data/0".utf8), in: good)[0] + 17
        let start = storage + Int(good[storage - 17 - 2]) + Int(good[storage - 17 - 1]) << 8  // local extra length
        b[start] ^= 1
        #expect(loadError(b) == .zipChecksumMismatch("module_zip/data/0"))
        #expect(loadError(Array(good.prefix(end))) == .zipNoEndOfDirectory)
        b = good  // a second disk
        b.replaceSubrange(end + 4 ..< end + 6, with: le(UInt16(1)))
        #expect(loadError(b) == .zipMultiDisk)
        #expect(loadError(zipArchive([("a/version", [0x33])])) == .missingDataPickle)
        #expect(loadError(zipArchive([("a/data.pkl", [0x2E]), ("b/data.pkl", [0x2E])])) == .ambiguousDataPickle(["a/data.pkl", "b/data.pkl"]))
        #expect(loadError(zipArchive([("a/data.pkl", [0x2E]), ("a/data.pkl", [0x2E])])) == .zipDuplicateEntry("a/data.pkl"))
        var zip64 = torchZip(oneTensor(numel: 1, size: [], stride: []), storages: [("0", floats([1]))], zip64: true)
        let locator = zip64.count - 22 - 20
        zip64[locator] ^= 0xFF
        if case .zip64Invalid = loadError(zip64) {} else { Issue.record("zip64 locator") }
    }

    /// Every truncation fails cleanly, and byte mutations anywhere give an error or a load, never
    /// a crash, in both formats.
    @Test(arguments: ["module_zip.pth", "module_legacy.pth", "mixed_zip.pth", "mixed_legacy.pth"])
    func truncationAndMutationSweeps(file: String) throws {
        let good = try bytes(file)
        for n in 0 ..< good.count {
            #expect(throws: PyTorchCheckpointError.self, "prefix of \(n) bytes") { try PyTorchCheckpoint.decode(Array(good.prefix(n))) }
        }
        var loaded = 0, refused = 0
        func attempt(_ b: [UInt8]) {
            do { _ = try PyTorchCheckpoint.decode(b); loaded += 1 } catch is PyTorchCheckpointError { refused += 1 } catch {
                Issue.record("not a PyTorchCheckpointError: \(error)")
            }
        }
        let stride = file.hasPrefix("mixed") ? 7 : 1
        for i in Swift.stride(from: 0, to: good.count, by: stride) {  // every byte (every seventh of the larger files)
            for value: UInt8 in [good[i] ^ 0x01, good[i] ^ 0x80, 0xFF, 0x00] where value != good[i] {
                var b = good
                b[i] = value
                attempt(b)
            }
        }
        var rng = SystemRandomNumberGenerator()
        for _ in 0 ..< 300 {  // several flips at once
            var b = good
            for _ in 0 ..< 4 { b[Int.random(in: 0 ..< b.count, using: &rng)] ^= UInt8(1) << UInt8.random(in: 0 ..< 8, using: &rng) }
            attempt(b)
        }
        #expect(loaded > 0 && refused > 0)
    }

    /// A model directory with `pytorch_model.bin` and no `model.safetensors` loads the same weights.
    @Test func modelDirectoryFallsBackToPytorchModelBin() throws {
        let vit = fixtures.deletingLastPathComponent().appendingPathComponent("vit/model")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grlhf-pth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: vit.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(atPath: path("vit_pytorch_model.bin"), toPath: dir.appendingPathComponent("pytorch_model.bin").path)
        let fromTorch = try VisionTransformer.load(directory: dir.path).namedParameters()
        let fromSafetensors = try VisionTransformer.load(directory: vit.path).namedParameters()
        #expect(fromTorch.map(\.name) == fromSafetensors.map(\.name) && !fromTorch.isEmpty)
        for (a, b) in zip(fromTorch, fromSafetensors) { #expect(a.tensor.scalars == b.tensor.scalars, "\(a.name)") }
    }
}

/// The real EfficientNet-Lite0 legacy file (`make models`) against numbers from data.md Appendix 1's
/// numpy reader (Fixtures/pytorch/efficientnet_spot.json).
@Suite(.enabled(if: FileManager.default.fileExists(atPath: efficientNetPath),
                "EfficientNet-Lite0 not fetched: run `make models` (.cache/models/efficientnet-lite0-57934424.pth)"))
struct PyTorchEfficientNetTests {
    struct Spot: Decodable {
        struct Tensor: Decodable { var shape: [Int]; var first: [Float]; var last: Float; var sum: Double }
        var tensors: Int, values: Int, first_names: [String], last_name: String, spot: [String: Tensor]
    }

    @Test func realCheckpointMatchesNumpyReader() throws {
        let spot = try JSONDecoder().decode(Spot.self, from: Data(contentsOf: fixtures.appendingPathComponent("efficientnet_spot.json")))
        let start = Date()
        let loaded = try PyTorchCheckpoint.read(contentsOf: efficientNetPath)
        print("EfficientNet-Lite0 .pth: \(loaded.count) tensors in \(String(format: "%.3f", Date().timeIntervalSince(start))) s")
        #expect(loaded.count == spot.tensors)
        #expect(loaded.reduce(0) { $0 + $1.tensor.count } == spot.values)
        #expect(Array(loaded.prefix(3).map(\.name)) == spot.first_names && loaded.last?.name == spot.last_name)
        let byName = Dictionary(uniqueKeysWithValues: loaded)
        for (name, want) in spot.spot {
            let t = try #require(byName[name], "\(name)")
            #expect(t.shape == want.shape, "\(name)")
            #expect(Array(t.scalars.prefix(want.first.count)) == want.first, "\(name)")
            #expect(t.scalars.last == want.last, "\(name)")
            let sum = t.scalars.reduce(0.0) { $0 + Double($1) }
            #expect(abs(sum - want.sum) <= 1e-9 * max(1, t.scalars.reduce(0.0) { $0 + abs(Double($1)) }), "\(name): \(sum) vs \(want.sum)")
        }
    }
}
