import Foundation
@testable import GRLHF
import Testing

/// Fixtures made by Fixtures/png/make_png_fixtures.py (zlib + struct, no libpng).
private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/png")

private func fixture(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: fixtures.appendingPathComponent(name)))
}

/// A deterministic test image: every sample differs from its neighbours.
private func pattern(width: Int, height: Int, channels: Int) -> PNG.Image {
    let pixels = (0 ..< width * height * channels).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ $0 / 7) }
    return PNG.Image(width: width, height: height, channels: channels, pixels: pixels)
}

/// One-channel samples `value(x, y)` row by row.
private func grid(width: Int, height: Int, _ value: (Int, Int) -> Int) -> [UInt8] {
    var out: [UInt8] = []
    for y in 0 ..< height { for x in 0 ..< width { out.append(UInt8(value(x, y))) } }
    return out
}

/// The error decoding `bytes` throws; records an issue if it decodes or throws something else.
private func decodeError(_ bytes: [UInt8], maxPixels: Int = 1 << 26,
                         sourceLocation: SourceLocation = #_sourceLocation) -> GRLHFError? {
    do {
        let image = try PNG.decode(bytes, maxPixels: maxPixels)
        Issue.record("decoded a corrupt file as \(image.width)x\(image.height)", sourceLocation: sourceLocation)
    } catch let error as GRLHFError {
        return error
    } catch {
        Issue.record("not a GRLHFError: \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

private func isInvalidFormat(_ e: GRLHFError?) -> Bool { if case .invalidFormat = e { return true } else { return false } }

/// Big-endian u32 and a chunk with its CRC, for hand-built headers.
private func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

private func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0 ..< 8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

private func chunk(_ kind: String, _ data: [UInt8]) -> [UInt8] {
    let body = Array(kind.utf8) + data
    return be32(UInt32(data.count)) + body + be32(crc32(body))
}

/// Signature + IHDR for an 8-bit RGB image of the given size, then an empty IDAT and IEND.
private func header(width: UInt32, height: UInt32) -> [UInt8] {
    PNG.signature + chunk("IHDR", be32(width) + be32(height) + [8, 2, 0, 0, 0]) + chunk("IDAT", [])
        + chunk("IEND", [])
}

@Suite struct PNGTests {
    @Test(arguments: [1, 2, 3, 4])
    func roundTrip(channels: Int) throws {
        for (w, h) in [(1, 1), (7, 3), (33, 17)] {
            let image = pattern(width: w, height: h, channels: channels)
            let bytes = try PNG.encode(image)
            #expect(Array(bytes.prefix(8)) == PNG.signature)
            #expect(try PNG.decode(bytes) == image)
        }
    }

    @Test func roundTripKeepsColorUnderZeroAlpha() throws {
        let image = PNG.Image(width: 2, height: 1, channels: 4, pixels: [10, 20, 30, 0, 250, 128, 3, 1])
        #expect(try PNG.decode(PNG.encode(image)) == image)
    }

    @Test func encodeRejectsInconsistentImages() {
        for bad in [PNG.Image(width: 2, height: 2, channels: 0, pixels: []),
                    PNG.Image(width: 2, height: 2, channels: 5, pixels: [UInt8](repeating: 0, count: 20)),
                    PNG.Image(width: 2, height: 2, channels: 3, pixels: [UInt8](repeating: 0, count: 11)),
                    PNG.Image(width: 0, height: 2, channels: 1, pixels: []),
                    PNG.Image(width: -1, height: -1, channels: 1, pixels: [0]),
                    PNG.Image(width: Int.max, height: 2, channels: 1, pixels: [0])] {
            #expect(throws: GRLHFError.self) { try PNG.encode(bad) }
        }
    }

    @Test func tensorIsChannelsFirstInUnitRange() {
        // 2x3 RGB: pixel (x, y) = (x + 10y, 255, 0)
        var pixels: [UInt8] = []
        for y in 0 ..< 2 { for x in 0 ..< 3 { pixels += [UInt8(x + 10 * y), 255, 0] } }
        let t = PNG.Image(width: 3, height: 2, channels: 3, pixels: pixels).tensor()
        #expect(t.shape == [3, 2, 3])
        #expect(t.scalars == [0, 1, 2, 10, 11, 12].map { Float($0) / 255 } + [Float](repeating: 1, count: 6)
            + [Float](repeating: 0, count: 6))
        let gray = PNG.Image(width: 1, height: 1, channels: 1, pixels: [51]).tensor()
        #expect(gray.shape == [1, 1, 1] && gray.scalars == [0.2])
    }

    @Test func fixtureWithEveryFilterType() throws {
        let image = try PNG.decode(fixture("rgb_filters.png"))
        #expect((image.width, image.height, image.channels) == (5, 5, 3))
        var expected: [UInt8] = []
        for y in 0 ..< 5 {
            for x in 0 ..< 5 {
                expected += [UInt8((x * 53 + y * 17) % 256), UInt8((x * 11 + y * 71) % 256),
                             UInt8((255 - x * 29 - y * 7 + 512) % 256)]
            }
        }
        #expect(image.pixels == expected)
    }

    @Test func fixture16BitGrayScalesExactly() throws {
        let image = try PNG.decode(fixture("gray16.png"))
        #expect((image.width, image.height, image.channels) == (3, 2, 1))
        #expect(image.pixels == [0, 1, 127, 128, 254, 255])
    }

    @Test func fixturePaletteWithTransparencyBecomesRGBA() throws {
        let image = try PNG.decode(fixture("palette2.png"))
        #expect((image.width, image.height, image.channels) == (4, 2, 4))
        let rgba: [[UInt8]] = [[10, 20, 30, 255], [200, 100, 50, 128], [0, 255, 0, 0], [1, 2, 3, 255]]
        #expect(image.pixels == [0, 1, 2, 3, 3, 2, 1, 0].flatMap { rgba[$0] })
    }

    @Test func fixtureOneBitGray() throws {
        let image = try PNG.decode(fixture("gray1.png"))
        #expect((image.width, image.height, image.channels) == (10, 2, 1))
        #expect(image.pixels == grid(width: 10, height: 2) { x, y in (x + y) % 3 == 0 ? 255 : 0 })
    }

    @Test func fixtureInterlaced() throws {
        let image = try PNG.decode(fixture("adam7_gray.png"))
        #expect((image.width, image.height, image.channels) == (9, 9, 1))
        #expect(image.pixels == grid(width: 9, height: 9) { x, y in (x * 7 + y * 13 + 5) % 256 })
    }

    @Test func fixtureGrayAlpha() throws {
        let image = try PNG.decode(fixture("ga8.png"))
        #expect((image.width, image.height, image.channels) == (2, 2, 2))
        #expect(image.pixels == [0, 255, 85, 170, 170, 85, 255, 0])
        #expect(image.tensor().shape == [2, 2, 2])
    }

    @Test func fileWriteIsAtomicAndReadsBack() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grlhf-png-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("a.png").path
        let image = pattern(width: 9, height: 4, channels: 3)
        try PNG.write(image, to: path)
        try PNG.write(image, to: path)  // replaces
        #expect(try PNG.read(contentsOf: path) == image)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["a.png"])

        #expect(throws: GRLHFError.self) { try PNG.write(image, to: dir.appendingPathComponent("no/such/dir.png").path) }
        #expect(throws: GRLHFError.self) { try PNG.read(contentsOf: dir.appendingPathComponent("missing.png").path) }
        let missing = #expect(throws: GRLHFError.self) { try PNG.read(contentsOf: "/nonexistent/x.png") }
        guard case .io = missing else { Issue.record("missing file should be .io, got \(String(describing: missing))"); return }
    }

    @Test func emptyAndBadSignature() {
        #expect(decodeError([]) == .invalidFormat("PNG: empty input"))
        #expect(isInvalidFormat(decodeError([0x89, 0x50, 0x4E])))
        #expect(isInvalidFormat(decodeError(Array("GIF89a not a png at all".utf8))))
        var bytes = (try? fixture("rgb_filters.png")) ?? []
        bytes[1] = UInt8(ascii: "Q")
        #expect(isInvalidFormat(decodeError(bytes)))
    }

    @Test func everyTruncationFails() throws {
        for valid in [try fixture("rgb_filters.png"), try fixture("adam7_gray.png"),
                      try PNG.encode(pattern(width: 6, height: 5, channels: 4))] {
            #expect(try PNG.decode(valid).width > 0)
            // IEND is the last 12 bytes; a file cut inside image data or before must fail.
            for n in 0 ..< valid.count - 12 {
                #expect(isInvalidFormat(decodeError(Array(valid.prefix(n)))), "prefix \(n) of \(valid.count)")
            }
            // Cut inside IEND: the pixels are complete; decoding or failing are both fine, crashing is not.
            for n in valid.count - 12 ..< valid.count { _ = try? PNG.decode(Array(valid.prefix(n))) }
        }
    }

    @Test func badCRCOnCriticalChunksFails() throws {
        let valid = try fixture("rgb_filters.png")
        // IHDR data starts at 16; its CRC at 29 ... 32. Flip a data byte, then a CRC byte.
        for index in [20, 30] {
            var bytes = valid
            bytes[index] ^= 0x01
            #expect(isInvalidFormat(decodeError(bytes)), "byte \(index)")
        }
        // Flip a byte inside the first IDAT's compressed data.
        guard let idat = (0 ..< valid.count - 4).first(where: { Array(valid[$0 ..< $0 + 4]) == Array("IDAT".utf8) }) else {
            Issue.record("no IDAT"); return
        }
        var bytes = valid
        bytes[idat + 6] ^= 0x40
        #expect(isInvalidFormat(decodeError(bytes)))
    }

    @Test func badCRCOnAncillaryChunkIsIgnored() throws {
        var bytes = try fixture("rgb_filters.png")
        guard let text = (0 ..< bytes.count - 4).first(where: { Array(bytes[$0 ..< $0 + 4]) == Array("tEXt".utf8) }) else {
            Issue.record("no tEXt"); return
        }
        bytes[text + 5] ^= 0x20  // libpng drops a damaged ancillary chunk with a warning
        #expect(try PNG.decode(bytes) == PNG.decode(fixture("rgb_filters.png")))
    }

    @Test func hugeOrZeroDimensionsFailBeforeAllocating() throws {
        // 60000 x 60000 RGB would need 10.8 GB; refused from the header alone.
        guard case .outOfMemory = decodeError(header(width: 60000, height: 60000)) else {
            Issue.record("expected outOfMemory"); return
        }
        // Over libpng's own limits, and zero sizes, are format errors.
        #expect(isInvalidFormat(decodeError(header(width: 1 << 31, height: 1))))
        #expect(isInvalidFormat(decodeError(header(width: 0xFFFF_FFFF, height: 0xFFFF_FFFF))))
        #expect(isInvalidFormat(decodeError(header(width: 0, height: 5))))
        #expect(isInvalidFormat(decodeError(header(width: 5, height: 0))))
        // A budget smaller than a real image.
        guard case .outOfMemory = decodeError(try fixture("rgb_filters.png"), maxPixels: 24) else {
            Issue.record("expected outOfMemory for maxPixels"); return
        }
        #expect(try PNG.decode(fixture("rgb_filters.png"), maxPixels: 25).width == 5)
        #expect(throws: GRLHFError.self) { try PNG.decode(fixture("rgb_filters.png"), maxPixels: 0) }
    }

    @Test func randomCorruptionNeverCrashes() throws {
        var rng = SystemRandomNumberGenerator.Seeded(seed: 42)
        let bases = [try fixture("rgb_filters.png"), try fixture("palette2.png"), try fixture("adam7_gray.png"),
                     try PNG.encode(pattern(width: 5, height: 4, channels: 2))]
        var failures = 0
        for trial in 0 ..< 2000 {
            var bytes = bases[trial % bases.count]
            for _ in 0 ..< 1 + Int(rng.next() % 4) {
                let i = 8 + Int(rng.next() % UInt64(bytes.count - 8))
                bytes[i] = UInt8(truncatingIfNeeded: rng.next())
            }
            if (try? PNG.decode(bytes)) == nil { failures += 1 }
        }
        #expect(failures > 1000)  // most damage is detected by CRCs
    }
}

extension SystemRandomNumberGenerator {
    /// SplitMix64, so the corruption test is the same on every run.
    fileprivate struct Seeded: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}

@Suite struct PNGPlotTests {
    private func count(_ image: PNG.Image, _ c: LinePlot.Color) -> Int {
        stride(from: 0, to: image.pixels.count, by: 3).filter {
            image.pixels[$0] == c.0 && image.pixels[$0 + 1] == c.1 && image.pixels[$0 + 2] == c.2
        }.count
    }

    private func white(_ image: PNG.Image) -> Double { Double(count(image, (255, 255, 255))) / Double(image.width * image.height) }

    @Test func rendersSeriesLegendAndWritesFile() throws {
        var plot = LinePlot(title: "Training loss", xLabel: "step")
        plot.add("loss", (0 ..< 200).map { (Double($0), 2.5 * exp(-Double($0) / 40) + 0.3 + 0.05 * sin(Double($0))) })
        plot.add("reward", (0 ..< 200).map { (Double($0), 1.8 - 1.5 * exp(-Double($0) / 60)) })
        plot.add("kl x10", stride(from: 0, to: 200, by: 10).map { (Double($0), Double($0) / 120) })
        let image = plot.render()
        #expect((image.width, image.height, image.channels) == (640, 400, 3))
        #expect(image.pixels.count == 640 * 400 * 3)
        #expect(Array(image.pixels.prefix(3)) == [255, 255, 255])
        #expect(white(image) > 0.6)
        for s in plot.series { #expect(count(image, s.color) > 150, "\(s.name)") }
        try PNG.write(image, to: "/tmp/grlhf_plot_test.png")
        #expect(try PNG.read(contentsOf: "/tmp/grlhf_plot_test.png") == image)
    }

    @Test func degenerateSeriesDoNotCrash() throws {
        let red: LinePlot.Color = (200, 0, 0)
        let cases: [[(Double, Double)]] = [
            [], [(1, 1)], [(3, 5), (3, 5), (3, 5)], [(0, 7), (1, 7), (2, 7)], [(.nan, 1), (2, .infinity)],
            [(0, 1), (1, .nan), (2, 3), (3, 4)], [(-1e308, -1e308), (1e308, 1e308)],
            [(1e16, 1), (1e16 + 2, 1.0000001)], [(0, -.infinity), (0, .greatestFiniteMagnitude)],
        ]
        for points in cases {
            // No name, so no legend swatch: red pixels come from the data alone.
            let image = LinePlot(title: "t", series: [("", points, red)]).render()
            #expect(image.width == 640 && image.height == 400 && image.pixels.count == 640 * 400 * 3)
            let finite = points.filter { $0.0.isFinite && $0.1.isFinite }
            #expect((count(image, red) > 0) == !finite.isEmpty, "\(points)")
        }
        #expect(LinePlot().render().pixels.count == 640 * 400 * 3)
        for (w, h) in [(0, 0), (1, 1), (10, 5), (60, 40), (3000, 20)] {
            let image = LinePlot(title: "tiny", series: [("a", [(0, 0), (1, 1)], red)], width: w, height: h).render()
            #expect(image.pixels.count == image.width * image.height * 3)
            #expect(try PNG.decode(PNG.encode(image)) == image)
        }
    }

    @Test func ticksAreNiceAndLabelsShort() {
        #expect(LinePlot.ticks(0, 1).map(\.label) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        #expect(LinePlot.ticks(-0.3, 0.3).map(\.label) == ["-0.3", "-0.2", "-0.1", "0.0", "0.1", "0.2", "0.3"])
        #expect(LinePlot.ticks(0, 0.2).map(\.label) == ["0.00", "0.05", "0.10", "0.15", "0.20"])
        #expect(LinePlot.ticks(0, 3e7).map(\.label) == ["0", "5e6", "1e7", "1.5e7", "2e7", "2.5e7", "3e7"])
        #expect(LinePlot.ticks(-3, 47).map(\.value) == [0, 10, 20, 30, 40])
        #expect(LinePlot.ticks(0, 1e-4).last?.label == "0.0001")
        #expect(LinePlot.ticks(0, 1e-5).last?.label == "1e-5")
        #expect(LinePlot.format(1e-5) == "1e-5" && LinePlot.format(2.5e12) == "2.5e12")
        #expect(LinePlot.range([], pad: 0.05) == (0, 1))
        #expect(LinePlot.range([4], pad: 0.05) == (3.6, 4.4))
        #expect(LinePlot.range([0, 0], pad: 0) == (-1, 1))
    }
}
