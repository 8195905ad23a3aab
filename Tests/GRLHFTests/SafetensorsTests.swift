import Foundation
import GRLHF
import Testing

/// Fixtures live beside this file (made by Fixtures/make_safetensors_fixtures.py).
private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/safetensors")

private func fixture(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: fixtures.appendingPathComponent(name)))
}

private func decode(_ bytes: [UInt8]) throws -> [(name: String, tensor: Tensor)] {
    try bytes.withUnsafeBytes { try Safetensors.decode($0) }
}

/// The error decoding `bytes` throws, which must be a SafetensorsError.
private func decodeError(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> SafetensorsError? {
    do {
        _ = try decode(bytes)
        Issue.record("decoded a corrupt file", sourceLocation: sourceLocation)
    } catch let error as SafetensorsError {
        return error
    } catch {
        Issue.record("not a SafetensorsError: \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// A file from a header given as text (unpadded) and a buffer of `bufferSize` zero bytes.
private func file(_ header: String, bufferSize: Int = 0) -> [UInt8] {
    let json = Array(header.utf8)
    return withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) } + json
        + [UInt8](repeating: 0, count: bufferSize)
}

/// A file with one F32 entry of the given shape and offsets text.
private func entry(_ shape: String, _ offsets: String, dtype: String = "F32", bufferSize: Int = 0) -> [UInt8] {
    file("{\"t\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":\(offsets)}}", bufferSize: bufferSize)
}

private func bits(_ t: Tensor) -> [UInt32] { t.scalars.map(\.bitPattern) }

private func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("grlhf-st-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

private let sample: [(name: String, tensor: Tensor)] = [
    ("scalar", Tensor([3.5], shape: [])),
    ("vector", Tensor([1, -2, .infinity, -0.0], shape: [4])),
    ("empty", Tensor([], shape: [0])),
    ("matrix", Tensor((0 ..< 6).map { Float($0) * 0.1 }, shape: [2, 3])),
    ("zero-inner", Tensor([], shape: [2, 0, 4])),
    ("nan", Tensor([.nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude], shape: [1, 1, 3])),
]

private func expectSame(_ a: [(name: String, tensor: Tensor)], _ b: [(name: String, tensor: Tensor)]) {
    #expect(a.map(\.name) == b.map(\.name))
    for (x, y) in zip(a, b) {
        #expect(x.tensor.shape == y.tensor.shape, "\(x.name)")
        #expect(bits(x.tensor) == bits(y.tensor), "\(x.name)")
    }
}

@Suite struct SafetensorsTests {
    @Test func roundTripInMemory() throws {
        let bytes = try Safetensors.encode(sample)
        let headerLength = bytes.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
        #expect(headerLength % 8 == 0)  // padded like the reference writer
        #expect(bytes.count == 8 + headerLength + 4 * sample.map(\.tensor.count).reduce(0, +))
        expectSame(try decode(bytes), sample)
    }

    @Test func roundTripThroughFile() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("model.safetensors").path
        try Safetensors.write(sample, to: path)
        expectSame(try Safetensors.read(contentsOf: path), sample)
        #expect(try Safetensors.metadata(contentsOf: path) == [:])
        // Overwriting replaces the file and leaves no temporary behind.
        try Safetensors.write([("only", Tensor([1, 2], shape: [2]))], to: path)
        #expect(try Safetensors.read(contentsOf: path).map(\.name) == ["only"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["model.safetensors"])
    }

    @Test func metadataRoundTrip() throws {
        let metadata = ["format": "pt", "quote\"back\\slash": "line\nbreak\ttab\u{1}é🙂", "": "empty key"]
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.safetensors").path
        let tensors: [(name: String, tensor: Tensor)] = [("w\"eird\nname✓", Tensor([1], shape: [1]))]
        try Safetensors.write(tensors, to: path, metadata: metadata)
        #expect(try Safetensors.metadata(contentsOf: path) == metadata)
        expectSame(try Safetensors.read(contentsOf: path), tensors)
    }

    @Test func writeRejectsBadNames() throws {
        let t = Tensor([1], shape: [1])
        for bad in [[("", t)], [("a", t), ("a", t)], [("__metadata__", t)]] as [[(name: String, tensor: Tensor)]] {
            let error = #expect(throws: GRLHFError.self) { try Safetensors.encode(bad) }
            guard case .invalidArgument = error else { Issue.record("\(String(describing: error))"); continue }
        }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: GRLHFError.self) { try Safetensors.write([("a", t), ("a", t)], to: dir.path + "/x") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func ioErrors() throws {
        let missing = "/nonexistent-grlhf/x.safetensors"
        let dir = try temporaryDirectory()  // a directory is not a safetensors file
        defer { try? FileManager.default.removeItem(at: dir) }
        for attempt in [{ _ = try Safetensors.read(contentsOf: missing) },
                        { _ = try Safetensors.metadata(contentsOf: missing) },
                        { _ = try Safetensors.read(contentsOf: dir.path) }] as [() throws -> Void] {
            let error = #expect(throws: SafetensorsError.self) { try attempt() }
            guard case .io = error, case .io = error?.grlhfError else { Issue.record("\(String(describing: error))"); continue }
        }
        let writeError = #expect(throws: GRLHFError.self) { try Safetensors.write(sample, to: missing) }
        guard case .io = writeError else { Issue.record("write to a missing directory: \(String(describing: writeError))"); return }
    }

    /// The reference writer's output reads back, and grlhf writes the same bytes.
    @Test func matchesReferenceWriter() throws {
        let reference = try fixture("reference.safetensors")
        let tensors = try decode(reference)
        #expect(tensors.map(\.name) == ["bias", "empty", "scalar", "weight"])
        #expect(tensors.map(\.tensor.shape) == [[3], [0, 3], [], [2, 3]])
        #expect(tensors[0].tensor.scalars == [0.5, -1.25, 3])
        #expect(tensors[2].tensor.scalars == [-7.75])
        #expect(tensors[3].tensor.scalars == [-1, -0.75, -0.5, -0.25, 0, 0.25])
        #expect(try Safetensors.encode(tensors, metadata: ["format": "np"]) == reference)
    }

    @Test func decodesF16AndBF16Exactly() throws {
        let tensors = try decode(try fixture("dtypes.safetensors"))
        #expect(tensors.map(\.name) == ["f16", "f16_expected", "bf16", "bf16_expected"])
        let byName = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.tensor) })
        for name in ["f16", "bf16"] {
            let got = try #require(byName[name]), expected = try #require(byName[name + "_expected"])
            #expect(got.shape == expected.shape)
            for (g, e) in zip(got.scalars, expected.scalars) {
                if e.isNaN { #expect(g.isNaN, "\(name)") } else { #expect(g.bitPattern == e.bitPattern, "\(name): \(g) vs \(e)") }
            }
        }
        // The fixture covers the edge cases it claims to.
        let f16 = try #require(byName["f16"]).scalars, bf16 = try #require(byName["bf16"]).scalars
        #expect(f16[1].bitPattern == (-0.0 as Float).bitPattern)
        #expect(f16[6] == 0x1p-24 && f16[7] == -1023 * 0x1p-24)  // float16 subnormals
        #expect(f16[8] == .infinity && f16[9] == -.infinity && f16[10].isNaN)
        #expect(bf16[6].isSubnormal && bf16[8] == .infinity && bf16[9] == -.infinity)
    }

    @Test func acceptsWhatTheFormatAllows() throws {
        // Whitespace, escapes, unknown fields, null metadata, zero-size tensors sharing an offset,
        // entries out of offset order.
        let header = """
         { "__metadata__" : null, "b\\u00e9\\ud83d\\ude42" : { "dtype":"BF16", "shape":[ 2 ], "data_offsets":[4,8], "x":[{"y":[true,false,null,-1.5e3]}] },
           "z" : {"data_offsets":[0,0],"shape":[0],"dtype":"F16"}, "a":{"dtype":"F32","shape":[],"data_offsets":[0,4]} }\t\r\n
        """
        let tensors = try decode(file(header, bufferSize: 8))
        #expect(tensors.map(\.name) == ["z", "a", "bé🙂"])
        #expect(tensors.map(\.tensor.shape) == [[0], [], [2]])
    }

    @Test func corruptionCatalogue() throws {
        typealias E = SafetensorsError
        // Length prefix.
        #expect(decodeError([]) == .fileTooShort(size: 0))
        #expect(decodeError([1, 2, 3]) == .fileTooShort(size: 3))
        let tooLarge = UInt64(Safetensors.maxHeaderLength + 1)
        #expect(decodeError(withUnsafeBytes(of: tooLarge.littleEndian) { Array($0) }) == .headerTooLarge(length: tooLarge))
        #expect(decodeError([UInt8](repeating: 0xFF, count: 16)) == .headerTooLarge(length: .max))
        #expect(decodeError([100, 0, 0, 0, 0, 0, 0, 0] + Array("{}".utf8)) == .headerPastEnd(length: 100, available: 2))

        // Header text.
        #expect(decodeError([3, 0, 0, 0, 0, 0, 0, 0, 0x7B, 0xFF, 0x7D]) == .headerNotUTF8)
        #expect(decodeError([4, 0, 0, 0, 0, 0, 0, 0, 0x7B, 0xC0, 0x80, 0x7D]) == .headerNotUTF8)  // overlong
        let notJSON = ["", "{", "{\"a\":", "{\"a\" 1}", "{\"__metadata__\":{},}", "{} x", "{\"a\":{\"dtype\":\"F32\",}}",
                       "{\"a\u{1}\":{}}", "{\"\\ud800\":{}}", "{\"\\q\":{}}", "{\"a\":{\"x\":01}}", "{\"a\":{\"x\":tru}}",
                       "{\"a\":{\"x\":" + String(repeating: "[", count: 1000) + "}}", "{\"a\":{\"x\":1.}}", "{'a':{}}"]
        for text in notJSON {
            guard case .headerNotJSON = decodeError(file(text)) else { Issue.record("accepted \(text.prefix(30))"); continue }
        }
        for text in ["[]", "\"x\"", "1", "null"] { #expect(decodeError(file(text)) == .headerNotObject) }

        // Entries and metadata.
        for (text, reason) in [
            ("{\"t\":1}", "entry is not an object"),
            ("{\"t\":{\"shape\":[],\"data_offsets\":[0,0]}}", "missing dtype"),
            ("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,0]}}", "missing shape"),
            ("{\"t\":{\"dtype\":\"F32\",\"shape\":[]}}", "missing data_offsets"),
            ("{\"t\":{\"dtype\":5,\"shape\":[],\"data_offsets\":[0,0]}}", "dtype is not a string"),
            ("{\"t\":{\"dtype\":\"F32\",\"shape\":\"x\",\"data_offsets\":[0,0]}}", "shape is not an array of integers"),
            ("{\"t\":{\"dtype\":\"F32\",\"shape\":[1,\"2\"],\"data_offsets\":[0,0]}}", "shape is not an array of integers"),
            ("{\"t\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0]}}", "data_offsets is not an array of 2 integers"),
            ("{\"t\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4,8]}}", "data_offsets is not an array of 2 integers"),
            ("{\"t\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", "duplicate field \"dtype\""),
        ] {
            #expect(decodeError(file(text, bufferSize: 4)) == .invalidEntry(name: "t", reason: reason))
        }
        for text in ["{\"__metadata__\":1}", "{\"__metadata__\":{\"k\":1}}", "{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}"] {
            guard case .invalidMetadata = decodeError(file(text)) else { Issue.record("accepted \(text)"); continue }
        }
        #expect(decodeError(file("{\"\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", bufferSize: 4)) == .emptyName)
        let one = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"
        #expect(decodeError(file("{\"a\":\(one),\"a\":\(one)}", bufferSize: 4)) == .duplicateName("a"))
        #expect(decodeError(file("{\"__metadata__\":{},\"__metadata__\":{}}")) == .duplicateName("__metadata__"))
        #expect(decodeError(file("{\"a\\u0000b\":\(one)}", bufferSize: 4)) == .nameContainsNUL("a\u{0}b"))
        // Names are bytes: "é" precomposed and decomposed are two different tensors.
        #expect((try? decode(file("{\"\u{E9}\":\(one),\"e\u{301}\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", bufferSize: 8)))?.count == 2)

        // Dtypes.
        for dtype in ["F33", "f32", ""] {
            #expect(decodeError(entry("[1]", "[0,4]", dtype: dtype, bufferSize: 4)) == .unknownDtype(name: "t", dtype: dtype))
        }
        for dtype in ["I64", "F64", "U8", "BOOL"] {
            let error = decodeError(entry("[1]", "[0,8]", dtype: dtype, bufferSize: 8))
            #expect(error == .unsupportedDtype(name: "t", dtype: dtype))
            guard case .unsupported = error?.grlhfError else { Issue.record("\(dtype) not unsupported"); continue }
        }

        // Dimensions, offsets and sizes.
        for dim in ["-1", "1.5", "1e2", "-0", "99999999999999999999999"] {
            #expect(decodeError(entry("[\(dim)]", "[0,4]", bufferSize: 4)) == .invalidDimension(name: "t", value: dim))
        }
        let rank65 = "[" + Array(repeating: "1", count: 65).joined(separator: ",") + "]"
        #expect(decodeError(entry(rank65, "[0,4]", bufferSize: 4)) == .tooManyDimensions(name: "t"))
        for offset in ["-4", "4.0", "18446744073709551616"] {
            #expect(decodeError(entry("[1]", "[0,\(offset)]", bufferSize: 4)) == .invalidOffset(name: "t", value: offset))
        }
        #expect(decodeError(entry("[1]", "[8,4]", bufferSize: 8)) == .offsetsReversed(name: "t", begin: 8, end: 4))
        #expect(decodeError(entry("[4611686018427387904]", "[0,4]", bufferSize: 4))
                == .byteSizeOverflow(name: "t", shape: [4611686018427387904]))
        // The running product overflows before the zero: rejected, as by the reference reader.
        #expect(decodeError(entry("[4294967296,4294967296,0]", "[0,0]"))
                == .byteSizeOverflow(name: "t", shape: [4294967296, 4294967296, 0]))
        #expect(decodeError(entry("[2]", "[0,4]", bufferSize: 4)) == .sizeMismatch(name: "t", expected: 8, actual: 4))
        #expect(decodeError(entry("[2]", "[0,8]", dtype: "F16", bufferSize: 8)) == .sizeMismatch(name: "t", expected: 4, actual: 8))

        // Layout of the buffer.
        #expect(decodeError(entry("[2]", "[0,8]", bufferSize: 4)) == .offsetPastEnd(name: "t", end: 8, bufferSize: 4))
        #expect(decodeError(entry("[2]", "[9223372036854775799,9223372036854775807]", bufferSize: 4))
                == .offsetPastEnd(name: "t", end: 9223372036854775807, bufferSize: 4))
        let two = { (b: String) in
            file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":\(b)}}",
                 bufferSize: 16)
        }
        #expect(decodeError(two("[4,12]")) == .overlap(name: "b", previous: "a"))
        #expect(decodeError(two("[0,8]")) == .overlap(name: "b", previous: "a"))  // the same bytes twice
        #expect(decodeError(two("[12,20]")) == .offsetPastEnd(name: "b", end: 20, bufferSize: 16))
        #expect(decodeError(entry("[2]", "[8,16]", bufferSize: 16)) == .hole(name: "t", begin: 8, expected: 0))
        #expect(decodeError(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                                 bufferSize: 16)) == .hole(name: "b", begin: 8, expected: 4))
        #expect(decodeError(entry("[1]", "[0,4]", bufferSize: 8)) == .trailingBytes(end: 4, bufferSize: 8))
        #expect(decodeError(file("{}", bufferSize: 1)) == .trailingBytes(end: 0, bufferSize: 1))
    }

    @Test func messagesNameTheProblem() {
        let error = decodeError(entry("[2]", "[0,4]", bufferSize: 4))
        #expect(error?.description.contains("\"t\"") == true && error?.description.contains("8") == true)
        guard case .invalidFormat(let message) = error?.grlhfError else { Issue.record("not invalidFormat"); return }
        #expect(message == error?.description)
    }

    /// Every proper prefix of a valid file fails with a SafetensorsError.
    @Test func truncationSweep() throws {
        let bytes = try Safetensors.encode(sample, metadata: ["k": "v"])
        for length in 0 ..< bytes.count {
            _ = decodeError(Array(bytes.prefix(length)))
        }
        #expect(try decode(bytes).count == sample.count)
    }

    /// Flipping any bit of the length prefix or header gives an error or a valid load, never a crash.
    @Test func headerBitFlipSweep() throws {
        let bytes = try Safetensors.encode(sample, metadata: ["k": "v"])
        let headerEnd = 8 + bytes.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
        var loaded = 0
        for index in 0 ..< headerEnd {
            for bit in 0 ..< 8 {
                var flipped = bytes
                flipped[index] ^= 1 << bit
                do {
                    let tensors = try decode(flipped)
                    #expect(tensors.reduce(0) { $0 + 4 * $1.tensor.count } <= bytes.count)
                    loaded += 1
                } catch is SafetensorsError {
                } catch {
                    Issue.record("byte \(index) bit \(bit): not a SafetensorsError: \(error)")
                }
            }
        }
        #expect(loaded > 0)  // e.g. flips inside names or metadata values still load
    }

    /// Seeded random edits (overwrite, insert, delete, JSON-significant bytes) anywhere in a
    /// valid file: an error or a valid load, never a crash.
    @Test func mutationFuzz() throws {
        let valid = try Safetensors.encode(sample, metadata: ["k": "v"])
        let interesting = Array("{}[]\",:-0123456789e. \\u".utf8) + [0x00, 0x7F, 0x80, 0xFF]
        var rng = PCG32(seed: 7)
        for _ in 0 ..< 3000 {
            var bytes = valid
            for _ in 0 ... Int.random(in: 0 ..< 3, using: &rng) {
                let at = Int.random(in: 0 ..< bytes.count, using: &rng)
                let byte = Bool.random(using: &rng) ? interesting.randomElement(using: &rng)! : UInt8.random(in: 0 ... 255, using: &rng)
                switch Int.random(in: 0 ..< 3, using: &rng) {
                case 0: bytes[at] = byte
                case 1: bytes.insert(byte, at: at)
                default: bytes.remove(at: at)
                }
            }
            do { _ = try decode(bytes) } catch is SafetensorsError {} catch { Issue.record("not a SafetensorsError: \(error)") }
        }
    }
}
