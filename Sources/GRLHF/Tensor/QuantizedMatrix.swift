/// A weight matrix [rows, cols] from one of ggml's block formats (Q8_0, Q4_0, Q4_1: 32 weights a
/// block, a half-precision scale d, for Q4_1 also an offset m), multiplied by float activations
/// without ever expanding it to float32. Single-stream decode reads every weight once per token,
/// so its time is the bytes read: 4-bit codes are 6 bits a weight with their scales, float32 32.
///
/// Layout (repacked at load, the codes bit for bit): each row is cut into chunks of four blocks
/// (zero-padded at the end); a chunk's codes are interleaved by 32-bit word — word 4l + b holds
/// word l of block b — so a 16-byte load brings word l of four blocks into four lanes, lane b
/// block b, and four scales load as one vector. Scales and offsets are float32 arrays beside
/// the codes.
///
/// Unpacking: shifting every lane by 4n (Q4) or 8j (Q8) and masking puts one code of each word in
/// each lane, weights 16h + 4l + j of block b (h: high nibbles or the second 16 bytes). The
/// activations are put in that order once per multiply, so codes never need a lane shuffle, and
/// a code becomes a float exactly as the bits of 2²³ + q less 2²³ (no int-to-float conversion,
/// which Swift's generic SIMD code does lane by lane). Activations stay float32 (llama.cpp
/// quantizes them to 8 bits and multiplies integers). Sums run in another order than
/// dequantize-then-multiply, so results differ from the float32 path by rounding only.
public final class QuantizedMatrix {
    public let type: GGMLType
    public let rows: Int, cols: Int
    /// Four-block chunks per row, and code bytes per chunk (64 for 4-bit, 128 for 8-bit).
    let chunks: Int, chunkBytes: Int
    let codes: UnsafeMutableRawPointer
    /// Per block: d, and the offset added per weight (Q4_1's m, Q4_0's −8d; nil for Q8_0).
    let scales: UnsafeMutablePointer<Float>
    let offsets: UnsafeMutablePointer<Float>?

    /// The formats with a kernel.
    public static let types: Set<UInt32> = [GGMLType.q8_0.id, GGMLType.q4_0.id, GGMLType.q4_1.id]

    /// Repacks `rows` rows of ggml blocks from `source` (`rowOrder[r]`: the source row of row r;
    /// nil keeps the order). `cols` must be a multiple of 32.
    public init(type: GGMLType, rows: Int, cols: Int, source: UnsafeRawPointer, rowOrder: [Int]? = nil) throws {
        guard Self.types.contains(type.id) else { throw GRLHFError.unsupported("no quantized kernel for \(type.name)") }
        guard rows > 0, cols > 0, cols % 32 == 0 else {
            throw GRLHFError.invalidArgument("quantized matrix [\(rows), \(cols)]: columns must be a positive multiple of 32")
        }
        guard rowOrder == nil || rowOrder!.count == rows && rowOrder!.allSatisfy({ (0 ..< rows).contains($0) }) else {
            throw GRLHFError.invalidArgument("quantized matrix: row order is not a permutation of \(rows) rows")
        }
        self.type = type; self.rows = rows; self.cols = cols
        let eightBit = type.id == GGMLType.q8_0.id
        chunks = (cols / 32 + 3) / 4
        chunkBytes = eightBit ? 128 : 64
        codes = .allocate(byteCount: rows * chunks * chunkBytes, alignment: 64)
        codes.initializeMemory(as: UInt8.self, repeating: 0, count: rows * chunks * chunkBytes)
        scales = .allocate(capacity: rows * chunks * 4)
        scales.initialize(repeating: 0, count: rows * chunks * 4)
        offsets = eightBit ? nil : .allocate(capacity: rows * chunks * 4)
        offsets?.initialize(repeating: 0, count: rows * chunks * 4)
        let blocksPerRow = cols / 32, codeOffset = type.id == GGMLType.q4_1.id ? 4 : 2, words = eightBit ? 8 : 4
        for r in 0 ..< rows {
            let row = source + (rowOrder?[r] ?? r) * blocksPerRow * type.typeSize
            for k in 0 ..< blocksPerRow {
                let block = row + k * type.typeSize, (c, b) = (k / 4, k % 4), slot = (r * chunks + c) * 4 + b
                let d = Self.half(block, 0)
                scales[slot] = d
                if type.id == GGMLType.q4_1.id { offsets![slot] = Self.half(block, 2) } else if !eightBit { offsets![slot] = -8 * d }
                // Word l of the block's codes to word 4l + b of the chunk (Q8: words 4..7 to the second 64 bytes).
                let chunk = codes + (r * chunks + c) * chunkBytes
                for l in 0 ..< words {
                    (chunk + 64 * (l / 4) + 4 * (4 * (l % 4) + b)).copyMemory(from: block + codeOffset + 4 * l, byteCount: 4)
                }
            }
        }
    }

    deinit {
        codes.deallocate(); scales.deallocate(); offsets?.deallocate()
    }

    /// Bytes one multiply reads: codes, scales and offsets.
    public var byteCount: Int { rows * chunks * (chunkBytes + (offsets == nil ? 16 : 32)) }

    /// Where activation k of a chunk's unpack order comes from: lane 4l + b of group n holds
    /// weight 16·(n % 2) + 4l + n / 2 of block b (group n: nibble n of every word for Q4, for
    /// Q8 byte n / 2 of the first (n even) or second 64 bytes).
    static let unpackOrder: [(block: Int, weight: Int)] = (0 ..< 128).map { k in
        let (n, lane) = (k / 16, k % 16), (l, b) = (lane / 4, lane % 4)
        return (b, 16 * (n % 2) + 4 * l + n / 2)
    }

    /// y[i, r] = Σ_c x[i, c] · W[r, c] (+ bias[r]) for `m` rows of x: x·Wᵀ, as `Tensor.linear`.
    public func multiply(_ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
        let blocksPerRow = cols / 32, chunks = self.chunks
        // Each input row in unpack order, zero past the last block, and its block sums (offsets
        // add m · Σ x per block).
        var xs = [Float](repeating: 0, count: m * chunks * 128), sums = [Float](repeating: 0, count: m * chunks * 4)
        for i in 0 ..< m {
            let row = x + i * cols
            for c in 0 ..< chunks {
                for (k, from) in Self.unpackOrder.enumerated() where 4 * c + from.block < blocksPerRow {
                    xs[(i * chunks + c) * 128 + k] = row[(4 * c + from.block) * 32 + from.weight]
                }
                for b in 0 ..< 4 where 4 * c + b < blocksPerRow { sums[(i * chunks + c) * 4 + b] = Kernels.sum(row + (4 * c + b) * 32, 32) }
            }
        }
        let (codes, scales, offsets, chunkBytes, rows) = (self.codes, self.scales, self.offsets, self.chunkBytes, self.rows)
        xs.withUnsafeBufferPointer { xs in sums.withUnsafeBufferPointer { sums in
            parallelChunks(rows, cost: m * cols) { range in
                for r in range {
                    let w = UnsafeRawPointer(codes + r * chunks * chunkBytes), d = scales + r * chunks * 4
                    for i in 0 ..< m {
                        let xi = xs.baseAddress! + i * chunks * 128
                        var dot = chunkBytes == 64 ? Self.dot4(w, d, xi, chunks) : Self.dot8(w, d, xi, chunks)
                        if let offsets { dot += Self.dot(offsets + r * chunks * 4, sums.baseAddress! + i * chunks * 4, chunks) }
                        if let bias { dot += bias[r] }
                        y[i * rows + r] = dot
                    }
                }
            }
        } }
    }

    /// `x`·Wᵀ (+ bias) as a new tensor [..., rows], when no gradient is being recorded and x has
    /// at most `maxRows` rows (decode); nil otherwise (the caller's float32 path: training needs
    /// gradients, and for long prompts a float32 sgemm outruns a row-by-row kernel).
    public func linear(_ x: Tensor, bias: Tensor?, maxRows: Int = 4) -> Tensor? {
        guard !isGradEnabled, x.lastDim == cols, x.rows <= maxRows else { return nil }
        let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [rows])
        multiply(x.data, m: x.rows, bias: bias.map { UnsafePointer($0.data) }, into: out.data)
        return out
    }

    // MARK: Kernels

    /// IEEE half to float without a library call (baseline x86-64 has no conversion
    /// instruction): the bits shifted into a float's fields, scaled by 2¹¹², which also gets
    /// subnormals right; infinities and NaNs get the all-ones exponent.
    @inline(__always) static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        let h = UInt32(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
        let magnitude = (h & 0x7C00) == 0x7C00 ? Float(bitPattern: ((h & 0x7FFF) << 13) | 0x7F80_0000)
            : Float(bitPattern: (h & 0x7FFF) << 13) * 0x1p112
        return h & 0x8000 != 0 ? -magnitude : magnitude
    }

    /// Four lanes: a chunk is walked a quarter (word l of its four blocks, lane b = block b) at
    /// a time. Sixteen-lane vectors did the same arithmetic but spilled on the baseline target's
    /// sixteen registers and measured 3× slower.
    typealias Lanes = SIMD4<Float>

    /// Codes below 2²³ in 32-bit lanes as floats, exactly.
    @inline(__always) static func floats(_ v: SIMD4<UInt32>) -> Lanes {
        unsafeBitCast(v | 0x4B00_0000, to: Lanes.self) - 0x1p23
    }

    @inline(__always) static func lanes(_ p: UnsafeRawPointer) -> SIMD4<UInt32> { p.loadUnaligned(as: SIMD4<UInt32>.self) }

    /// Quarter q of activation group n.
    @inline(__always) static func group(_ x: UnsafePointer<Float>, _ n: Int, _ q: Int) -> Lanes {
        UnsafeRawPointer(x + 16 * n + 4 * q).loadUnaligned(as: Lanes.self)
    }

    /// Σ a·b over `chunks` groups of four (Kernels.dot's padded tail costs as much as a short row's codes).
    @inline(__always) static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ chunks: Int) -> Float {
        var acc = Lanes()
        for c in 0 ..< chunks {
            acc += UnsafeRawPointer(a + 4 * c).loadUnaligned(as: Lanes.self) * UnsafeRawPointer(b + 4 * c).loadUnaligned(as: Lanes.self)
        }
        return acc.sum()
    }

    /// Σ_b d_b Σ q·x over 4-bit chunks (the offsets are added by the caller).
    static func dot4(_ w: UnsafeRawPointer, _ d: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ chunks: Int) -> Float {
        var acc = Lanes()
        for c in 0 ..< chunks {
            let xc = x + 128 * c
            var part = Lanes()
            for q in 0 ..< 4 {
                let v = lanes(w + 64 * c + 16 * q)
                part += floats(v & 0xF) * group(xc, 0, q) + floats(v &>> 4 & 0xF) * group(xc, 1, q)
                part += floats(v &>> 8 & 0xF) * group(xc, 2, q) + floats(v &>> 12 & 0xF) * group(xc, 3, q)
                part += floats(v &>> 16 & 0xF) * group(xc, 4, q) + floats(v &>> 20 & 0xF) * group(xc, 5, q)
                part += floats(v &>> 24 & 0xF) * group(xc, 6, q) + floats(v &>> 28) * group(xc, 7, q)
            }
            // Not addProduct: without FMA hardware (baseline x86-64) that is an fmaf call per lane.
            acc += UnsafeRawPointer(d + 4 * c).loadUnaligned(as: Lanes.self) * part
        }
        return acc.sum()
    }

    /// Σ_b d_b Σ q·x over 8-bit chunks: a signed byte with its top bit flipped is q + 128.
    static func dot8(_ w: UnsafeRawPointer, _ d: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ chunks: Int) -> Float {
        var acc = Lanes()
        for c in 0 ..< chunks {
            let xc = x + 128 * c
            var part = Lanes()
            for q in 0 ..< 4 {
                let lo = lanes(w + 128 * c + 16 * q) ^ 0x8080_8080, hi = lanes(w + 128 * c + 64 + 16 * q) ^ 0x8080_8080
                part += (floats(lo & 0xFF) - 128) * group(xc, 0, q) + (floats(hi & 0xFF) - 128) * group(xc, 1, q)
                part += (floats(lo &>> 8 & 0xFF) - 128) * group(xc, 2, q) + (floats(hi &>> 8 & 0xFF) - 128) * group(xc, 3, q)
                part += (floats(lo &>> 16 & 0xFF) - 128) * group(xc, 4, q) + (floats(hi &>> 16 & 0xFF) - 128) * group(xc, 5, q)
                part += (floats(lo &>> 24) - 128) * group(xc, 6, q) + (floats(hi &>> 24) - 128) * group(xc, 7, q)
            }
            acc += UnsafeRawPointer(d + 4 * c).loadUnaligned(as: Lanes.self) * part
        }
        return acc.sum()
    }
}
