import Foundation
import GRLHF
import Testing

/// Fixtures made by Fixtures/gguf/make_gguf_fixtures.py with gguf==0.19.0.
private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/gguf")

private func bytes(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: fixtures.appendingPathComponent(name)))
}

/// The one place `needle` occurs in `haystack`.
private func find(_ needle: [UInt8], in haystack: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> Int {
    var hits: [Int] = []
    if haystack.count >= needle.count {
        for i in 0 ... haystack.count - needle.count where Array(haystack[i ..< i + needle.count]) == needle { hits.append(i) }
    }
    #expect(hits.count == 1, "\(needle) occurs \(hits.count) times", sourceLocation: sourceLocation)
    return hits.first ?? 0
}

/// A GGUF string: u64 length, then the bytes.
private func ggufString(_ s: String) -> [UInt8] { le(UInt64(s.utf8.count)) + Array(s.utf8) }

private func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

private func put<T: FixedWidthInteger>(_ v: T, at offset: Int, in b: inout [UInt8]) {
    b.replaceSubrange(offset ..< offset + MemoryLayout<T>.size, with: le(v))
}

private func ggufError(_ b: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> GGUFError? {
    do {
        _ = try GGUFFile(bytes: b)
        Issue.record("parsed a corrupt file", sourceLocation: sourceLocation)
    } catch let e as GGUFError {
        return e
    } catch {
        Issue.record("not a GGUFError: \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

@Suite struct GGUFTests {
    @Test func metadataOfEveryValueType() throws {
        let f = try GGUFFile(bytes: bytes("quants.gguf"))
        #expect(f.version == 3 && f.alignment == 32 && f.dataOffset % 32 == 0)
        #expect(f["general.architecture"] == .string("test"))
        #expect(f["test.u8"] == .uint8(200))
        #expect(f["test.i8"] == .int8(-100))
        #expect(f["test.u16"] == .uint16(60000))
        #expect(f["test.i16"] == .int16(-30000))
        #expect(f["test.u32"] == .uint32(4_000_000_000))
        #expect(f["test.i32"] == .int32(-2_000_000_000))
        #expect(f["test.f32"] == .float32(0.1))
        #expect(f["test.bool"] == .bool(true))
        #expect(f["test.string"] == .string("héllo, GGUF ✓"))
        #expect(f["test.u64"] == .uint64(18_000_000_000_000_000_000))
        #expect(f["test.i64"] == .int64(-9_000_000_000_000_000_000))
        #expect(f["test.f64"] == .float64(-2.5e300))
        #expect(f["test.array.i32"] == .array(.int32, [.int32(1), .int32(-2), .int32(3)]))
        #expect(try f.stringArray("test.array.str") == ["a", "", "Ġthe"])
        #expect(f["test.array.f32"] == .array(.float32, [.float32(0.5), .float32(-1.25)]))
        #expect(f["test.array.bool"] == .array(.bool, [.bool(true), .bool(false)]))
        #expect(throws: GGUFError.self) { try f.int("test.u64") }  // 1.8e19 does not fit in Int
        #expect(throws: GGUFError.self) { try f.int("test.string") }
        #expect(f["test.u64"]?.intValue == nil)  // 1.8e19 > Int.max
        #expect(try f.intArray("test.array.i32") == [1, -2, 3])
    }

    /// Every tensor equals gguf.quants.dequantize bit for bit (NaN payloads included for BF16).
    @Test func dequantizationMatchesGGUFPy() throws {
        let f = try GGUFFile(bytes: bytes("quants.gguf"))
        let expected = try Safetensors.read(contentsOf: fixtures.appendingPathComponent("quants.expected").path)
        #expect(f.tensors.map(\.name) == expected.map(\.name))
        var types = Set<String>()
        for (name, want) in expected {
            let info = try #require(f.tensorInfo(named: name))
            types.insert(info.type.name)
            let got = try f.tensor(named: name)
            #expect(got.shape == want.shape, "\(name)")
            guard got.shape == want.shape else { continue }
            var mismatches = 0
            for i in 0 ..< got.count where got.data[i].bitPattern != want.data[i].bitPattern { mismatches += 1 }
            #expect(mismatches == 0, "\(name) (\(info.type)): \(mismatches) of \(got.count) values differ")
        }
        #expect(types == ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1"])
        #expect(f.tensorInfo(named: "q8_0.3d")?.dimensions == [32, 3, 2])
    }

    @Test func alignmentAndVersion2() throws {
        for (file, version) in [("aligned64.gguf", 3), ("v2.gguf", 2)] {
            let f = try GGUFFile(bytes: bytes(file))
            #expect(f.version == version && f.alignment == 64 && f.dataOffset % 64 == 0)
            #expect(f["test.note"] == .string("alignment 64"))
            #expect(try f.tensor(named: "a").scalars == [0, 1, 2, 3, 4])
            #expect(f.tensorInfo(named: "b")?.offset == 64)
            let b = try f.tensor(named: "b")
            #expect(b.shape == [1, 32] && abs(b.data[0] + 1) < 0.01 && abs(b.data[31] - 1) < 0.01)
        }
        // The same file read from disk (memory-mapped) gives the same values.
        let mapped = try GGUFFile.open(fixtures.appendingPathComponent("v2.gguf").path)
        #expect(try mapped.tensor(named: "a").scalars == [0, 1, 2, 3, 4])
        #expect(throws: GGUFError.self) { try GGUFFile.open("/nonexistent/x.gguf") }
    }

    /// Each corruption of a valid file gives its own error.
    @Test func corruptFilesGiveTheirOwnErrors() throws {
        let good = try bytes("aligned64.gguf")
        let q = try bytes("quants.gguf")
        let note = find(ggufString("test.note"), in: good)
        let align = find(ggufString("general.alignment"), in: good) + 8 + 17 + 4  // the u32 value
        let a = find(ggufString("a") + le(UInt32(1)), in: good)                      // tensor info "a"
        let b = find(ggufString("b") + le(UInt32(2)), in: good)                      // tensor info "b"
        let (aDims, aType) = (a + 13, a + 21)
        let (bNe0, bNe1, bType, bOffset) = (b + 13, b + 21, b + 29, b + 33)
        let i32 = find(ggufString("test.i32"), in: q)
        let arr = find(ggufString("test.array.i32"), in: q) + 8 + 14 + 4            // element type
        #expect(Array(good[align ..< align + 4]) == le(UInt32(64)))
        #expect(Array(good[bOffset ..< bOffset + 8]) == le(UInt64(64)))

        func mutated(_ base: [UInt8], _ change: (inout [UInt8]) -> Void) -> [UInt8] { var c = base; change(&c); return c }
        typealias Case = (String, [UInt8], (GGUFError) -> Bool)
        let cases: [Case] = [
            ("truncated header", Array(good.prefix(10)), { if case .truncated(let what, _, _) = $0 { what == "the header" } else { false } }),
            ("empty file", [], { if case .truncated = $0 { true } else { false } }),
            ("bad magic", mutated(good) { $0[0] = UInt8(ascii: "X") }, { if case .badMagic = $0 { true } else { false } }),
            ("version 1", mutated(good) { put(UInt32(1), at: 4, in: &$0) }, { $0 == .unsupportedVersion(1) }),
            ("version 4", mutated(good) { put(UInt32(4), at: 4, in: &$0) }, { $0 == .unsupportedVersion(4) }),
            ("big-endian", mutated(good) { put(UInt32(3).byteSwapped, at: 4, in: &$0) }, { $0 == .bigEndian }),
            ("absurd tensor count", mutated(good) { put(UInt64(1) << 62, at: 8, in: &$0) }, { if case .tooManyTensors = $0 { true } else { false } }),
            ("tensor count 2^64-1", mutated(good) { put(UInt64.max, at: 8, in: &$0) }, { if case .tooManyTensors = $0 { true } else { false } }),
            ("absurd kv count", mutated(good) { put(UInt64(1) << 40, at: 16, in: &$0) }, { if case .tooManyKeyValues = $0 { true } else { false } }),
            ("string past EOF", mutated(good) { put(UInt64(1) << 40, at: note, in: &$0) }, { if case .stringPastEnd = $0 { true } else { false } }),
            ("string length 2^64-1", mutated(good) { put(UInt64.max, at: note, in: &$0) }, { if case .stringPastEnd = $0 { true } else { false } }),
            ("key not UTF-8", mutated(good) { $0[note + 9] = 0xFF }, { if case .invalidUTF8 = $0 { true } else { false } }),
            ("empty key", mutated(good) { put(UInt64(0), at: 24, in: &$0) }, { $0 == .emptyKey(index: 0) }),
            ("duplicate key", mutated(q) { $0[i32 + 8 + 5] = UInt8(ascii: "u") }, { $0 == .duplicateKey("test.u32") }),
            ("unknown value type", mutated(good) { put(UInt32(13), at: note + 17, in: &$0) }, { $0 == .unknownValueType(key: "test.note", type: 13) }),
            ("unknown array element type", mutated(q) { put(UInt32(77), at: arr, in: &$0) }, { $0 == .unknownValueType(key: "test.array.i32", type: 77) }),
            ("nested array", mutated(q) { put(UInt32(9), at: arr, in: &$0) }, { $0 == .nestedArray(key: "test.array.i32") }),
            ("array past EOF", mutated(q) { put(UInt64(1) << 60, at: arr + 4, in: &$0) }, { if case .arrayPastEnd = $0 { true } else { false } }),
            ("alignment not a power of two", mutated(good) { put(UInt32(48), at: align, in: &$0) }, { if case .badAlignment = $0 { true } else { false } }),
            ("alignment zero", mutated(good) { put(UInt32(0), at: align, in: &$0) }, { if case .badAlignment = $0 { true } else { false } }),
            ("alignment of the wrong type", mutated(good) { put(UInt32(5), at: align - 4, in: &$0) }, { if case .badAlignment = $0 { true } else { false } }),
            ("empty tensor name", mutated(good) { put(UInt64(0), at: a, in: &$0) }, { $0 == .emptyTensorName(index: 0) }),
            ("duplicate tensor name", mutated(good) { $0[b + 8] = UInt8(ascii: "a") }, { $0 == .duplicateTensorName("a") }),
            ("5 dimensions", mutated(good) { put(UInt32(5), at: a + 9, in: &$0) }, { $0 == .badDimensionCount(name: "a", count: 5) }),
            ("0 dimensions", mutated(good) { put(UInt32(0), at: a + 9, in: &$0) }, { $0 == .badDimensionCount(name: "a", count: 0) }),
            ("dimension past Int64", mutated(good) { put(UInt64(1) << 63, at: aDims, in: &$0) }, { if case .dimensionsOverflow(name: "a", _) = $0 { true } else { false } }),
            ("element count overflow", mutated(good) { put(UInt64(1) << 62, at: bNe1, in: &$0) }, { if case .dimensionsOverflow(name: "b", _) = $0 { true } else { false } }),
            ("unknown ggml type", mutated(good) { put(UInt32(99), at: aType, in: &$0) }, { $0 == .unknownTensorType(name: "a", type: 99) }),
            ("removed ggml type 4", mutated(good) { put(UInt32(4), at: aType, in: &$0) }, { $0 == .unknownTensorType(name: "a", type: 4) }),
            ("row not a block multiple", mutated(good) { put(UInt64(16), at: bNe0, in: &$0) }, { $0 == .rowNotBlockMultiple(name: "b", ne0: 16, blockSize: 32, type: "Q8_0") }),
            ("data offset outside the file", mutated(good) { put(UInt64(1) << 40, at: bOffset, in: &$0) }, { if case .dataOutsideFile(name: "b", _, _, _) = $0 { true } else { false } }),
            ("data offset 2^64-64", mutated(good) { put(UInt64.max - 63, at: bOffset, in: &$0) }, { if case .dataOutsideFile(name: "b", _, _, _) = $0 { true } else { false } }),
            ("misaligned offset", mutated(good) { put(UInt64(68), at: bOffset, in: &$0) }, { $0 == .misalignedOffset(name: "b", offset: 68, alignment: 64) }),
            ("overlapping tensors", mutated(good) { put(UInt64(0), at: bOffset, in: &$0) }, { if case .overlappingTensors = $0 { true } else { false } }),
            ("tensor data cut short", Array(good.prefix(try GGUFFile(bytes: good).dataOffset + 64 + 20)), { if case .dataOutsideFile(name: "b", _, _, _) = $0 { true } else { false } }),
        ]
        var messages = Set<String>()
        for (label, file, matches) in cases {
            guard let e = ggufError(file) else { Issue.record("\(label): no error"); continue }
            #expect(matches(e), "\(label): got \(e)")
            #expect(e.description.hasPrefix("gguf: "), "\(label)")
            messages.insert(e.description)
            let engine = GRLHFError(e)
            switch e {
            case .unsupportedVersion, .bigEndian, .nestedArray: #expect(engine == .unsupported(e.description), "\(label)")
            default: #expect(engine == .invalidFormat(e.description), "\(label)")
            }
        }
        #expect(messages.count == cases.count, "each case has its own message")

        // A valid type grlhf does not dequantize parses, and reading it says so.
        let i32File = try GGUFFile(bytes: mutated(good) { put(UInt32(26), at: aType, in: &$0) })
        #expect(throws: GGUFError.unsupportedTensorType(name: "a", type: "I32")) { try i32File.tensor(named: "a") }
        #expect(GRLHFError(GGUFError.unsupportedTensorType(name: "a", type: "I32")) == .unsupported(GGUFError.unsupportedTensorType(name: "a", type: "I32").description))
        #expect(throws: GGUFError.missingTensor("zz")) { try i32File.tensor(named: "zz") }
    }

    /// Every truncation of a valid file's tensor data or header fails cleanly, and byte flips give an error or a file
    /// whose tensors all read.
    @Test func truncationAndBitFlipSweeps() throws {
        let good = try bytes("quants.gguf")
        let parsed = try GGUFFile(bytes: good)
        let end = parsed.dataOffset + parsed.tensors.map { $0.offset + $0.byteCount }.max()!  // then only padding
        #expect(end > good.count - 32 && end <= good.count)
        for n in 0 ..< end where n % 7 == 0 || n < 200 || n > end - 40 {
            #expect(throws: GGUFError.self, "prefix of \(n) bytes") { _ = try GGUFFile(bytes: Array(good.prefix(n))) }
        }
        var rng = SystemRandomNumberGenerator()
        var loaded = 0
        for _ in 0 ..< 400 {
            var b = good
            let i = Int.random(in: 0 ..< 1200, using: &rng)  // header, metadata and tensor infos
            b[i] ^= UInt8(1) << UInt8.random(in: 0 ..< 8, using: &rng)
            guard let f = try? GGUFFile(bytes: b) else { continue }
            for t in f.tensors {
                if t.type.isSupported { _ = try? f.tensor(named: t.name) }  // only must not crash
            }
            loaded += 1
        }
        #expect(loaded > 0)
    }
}

/// A random 2-layer Llama written in llama.cpp's layout (q/k permuted, Q8_0/Q4_1/F16/F32) by
/// make_gguf_fixtures.py, against the numpy adjacent-pair forward on the dequantized weights.
@Suite struct GGUFLlamaTests {
    @Test func tinyLlamaMatchesNumpyForward() throws {
        let f = try GGUFFile(bytes: bytes("tiny_llama.gguf"))
        let model = try DecoderLM.load(gguf: f)
        let c = model.config
        #expect(c.numHiddenLayers == 2 && c.hiddenSize == 64 && c.numAttentionHeads == 4 && c.numKeyValueHeads == 2)
        #expect(c.intermediateSize == 96 && c.vocabSize == 80 && !c.tieWordEmbeddings && c.rmsNormEps == 1e-5)
        let expected = Dictionary(uniqueKeysWithValues: try Safetensors.read(
            contentsOf: fixtures.appendingPathComponent("tiny_llama.expected").path).map { ($0.name, $0.tensor) })
        let ids = try #require(expected["ids"]).scalars.map { Int32($0) }
        let want = try #require(expected["logits"])
        let got = model(ids, batch: 1, time: ids.count)
        #expect(got.shape == [1, ids.count, 80] && want.shape == [ids.count, 80])
        let scale = want.scalars.map(abs).max()!
        let worst = zip(got.scalars, want.scalars).map { abs($0 - $1) }.max()!
        #expect(worst <= 1e-4 * scale, "max |Δlogit| \(worst), largest logit \(scale)")
    }

    @Test func modelLoaderErrors() throws {
        let good = try bytes("tiny_llama.gguf")
        func replacing(_ a: String, _ b: String) -> [UInt8] {
            var c = good
            let i = find(ggufString(a), in: good)
            c.replaceSubrange(i ..< i + 8 + a.utf8.count, with: ggufString(b))
            return c
        }
        func loadError(_ b: [UInt8]) -> String {
            do { _ = try DecoderLM.load(gguf: GGUFFile(bytes: b)); return "loaded" } catch { return "\(GRLHFError(error))" }
        }
        #expect(loadError(replacing("blk.1.ffn_up.weight", "blk.1.ffn_xx.weight")) == "gguf: no tensor \"blk.1.ffn_up.weight\"")
        #expect(loadError(replacing("llama.block_count", "llama.block_counx")) == "gguf: missing key \"llama.block_count\"")
        #expect(loadError(replacing("output_norm.weight", "output_norx.weight")).contains("no tensor \"output_norm.weight\""))
        // An architecture string of the same length as "llama".
        let arch = find(ggufString("general.architecture") + le(UInt32(8)) + ggufString("llama"), in: good) + 8 + 20 + 4 + 8
        var gpt = good
        gpt.replaceSubrange(arch ..< arch + 5, with: Array("gpt2x".utf8))
        #expect(loadError(gpt).contains("architecture \"gpt2x\""))
        // A block count claiming more layers than the file holds fails before allocating them.
        var many = good
        let count = find(ggufString("llama.block_count") + le(UInt32(4)), in: good) + 8 + 17 + 4
        put(UInt32(1_000_000), at: count, in: &many)
        #expect(loadError(many).hasPrefix("gguf: no tensor \"blk.2."))
    }
}
