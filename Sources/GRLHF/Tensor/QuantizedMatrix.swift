/// A weight matrix [rows, cols] kept in one of ggml's block formats (Q8_0, Q4_0, Q4_1: 32
/// weights a block, each row its own blocks), multiplied by float activations straight from the
/// blocks. Single-stream decode reads every weight once per token, so its time is the bytes
/// read: a 4-bit block is 5 bits a weight against float32's 32.
///
/// The kernel keeps the activations in float32 (llama.cpp quantizes them to 8 bits and multiplies
/// integers): per block it widens the codes to floats and accumulates `d · Σ q·x` in SIMD lanes,
/// and adds Q4_1's offset as `m · Σ x` from block sums computed once per input row. Products
/// are summed in a different order than dequantize-then-multiply, so results differ from the
/// float32 path by rounding only.
public final class QuantizedMatrix {
    public let type: GGMLType
    public let rows: Int, cols: Int
    let rowBytes: Int
    let blocks: UnsafeMutableRawPointer

    /// The formats with a kernel.
    public static let types: Set<UInt32> = [GGMLType.q8_0.id, GGMLType.q4_0.id, GGMLType.q4_1.id]

    /// Copies `rows` rows of blocks from `source` (`rowOrder[r]`: the source row of row r; nil
    /// keeps the order). `cols` must be a multiple of 32.
    public init(type: GGMLType, rows: Int, cols: Int, source: UnsafeRawPointer, rowOrder: [Int]? = nil) throws {
        guard Self.types.contains(type.id) else { throw GRLHFError.unsupported("no quantized kernel for \(type.name)") }
        guard rows > 0, cols > 0, cols % 32 == 0 else {
            throw GRLHFError.invalidArgument("quantized matrix [\(rows), \(cols)]: columns must be a positive multiple of 32")
        }
        guard rowOrder == nil || rowOrder!.count == rows && rowOrder!.allSatisfy({ (0 ..< rows).contains($0) }) else {
            throw GRLHFError.invalidArgument("quantized matrix: row order is not a permutation of \(rows) rows")
        }
        self.type = type; self.rows = rows; self.cols = cols
        rowBytes = cols / 32 * type.typeSize
        blocks = .allocate(byteCount: rows * rowBytes, alignment: 64)
        for r in 0 ..< rows {
            (blocks + r * rowBytes).copyMemory(from: source + (rowOrder?[r] ?? r) * rowBytes, byteCount: rowBytes)
        }
    }

    deinit { blocks.deallocate() }

    /// Bytes the blocks take (what one multiply reads).
    public var byteCount: Int { rows * rowBytes }

    /// y[i, r] = Σ_c x[i, c] · W[r, c] (+ bias[r]) for `m` rows of x: x·Wᵀ, as `Tensor.linear`.
    public func multiply(_ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
        let nb = cols / 32
        // Each input row in the order the kernels unpack codes (see `unpackOrder`), and for
        // Q4_1 its block sums, which the offsets multiply.
        var xs = [Float](repeating: 0, count: m * cols)
        var sums = [Float](repeating: 0, count: type.id == GGMLType.q4_1.id ? m * nb : 0)
        for i in 0 ..< m {
            for e in 0 ..< cols { xs[i * cols + e] = x[i * cols + e / 32 * 32 + Self.unpackOrder[e % 32]] }
            if !sums.isEmpty { for b in 0 ..< nb { sums[i * nb + b] = Kernels.sum(x + i * cols + b * 32, 32) } }
        }
        let (blocks, rowBytes, cols, rows, id) = (self.blocks, self.rowBytes, self.cols, self.rows, type.id)
        xs.withUnsafeBufferPointer { xs in sums.withUnsafeBufferPointer { sums in
            parallelChunks(rows, cost: m * cols) { range in
                for r in range {
                    let w = UnsafeRawPointer(blocks + r * rowBytes)
                    for i in 0 ..< m {
                        let xi = xs.baseAddress! + i * cols
                        var dot: Float
                        switch id {
                        case GGMLType.q4_1.id: dot = Self.dotQ4_1(w, xi, sums.baseAddress! + i * nb, nb)
                        case GGMLType.q4_0.id: dot = Self.dotQ4_0(w, xi, nb)
                        default: dot = Self.dotQ8_0(w, xi, nb)
                        }
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

    /// Where the kernels' unpacked lanes come from. A block's 16 code bytes load as four 32-bit
    /// lanes; shifting all four by 8j (+4 for high nibbles) and masking puts byte j of each lane
    /// side by side: weights 4l + j (+16) for lanes l = 0…3. So group g = 4h + j of four floats
    /// holds weights 16h + 4l + j; the activations are reordered to match once per multiply,
    /// and the codes never need a lane-changing shuffle.
    static let unpackOrder: [Int] = (0 ..< 32).map { k in let (g, l) = (k / 4, k % 4); return 16 * (g / 4) + 4 * l + g % 4 }

    typealias Lanes = SIMD4<Float>

    /// Small unsigned integers in 32-bit lanes as floats, exactly: 2²³ + v has v in the mantissa.
    @inline(__always) static func floats(_ v: SIMD4<UInt32>) -> Lanes {
        unsafeBitCast(v | 0x4B00_0000, to: Lanes.self) - 0x1p23
    }

    @inline(__always) static func x(_ p: UnsafePointer<Float>, _ group: Int) -> Lanes {
        UnsafeRawPointer(p + 4 * group).loadUnaligned(as: Lanes.self)
    }

    /// Σ q·x over one block's 32 four-bit codes (16 bytes at `codes`), `xb` in unpack order.
    @inline(__always) static func nibbleDot(_ codes: UnsafeRawPointer, _ xb: UnsafePointer<Float>) -> Lanes {
        let w = codes.loadUnaligned(as: SIMD4<UInt32>.self)
        var part = floats(w & 0xF) * x(xb, 0) + floats(w &>> 4 & 0xF) * x(xb, 4)
        part += floats(w &>> 8 & 0xF) * x(xb, 1) + floats(w &>> 12 & 0xF) * x(xb, 5)
        part += floats(w &>> 16 & 0xF) * x(xb, 2) + floats(w &>> 20 & 0xF) * x(xb, 6)
        part += floats(w &>> 24 & 0xF) * x(xb, 3) + floats(w &>> 28) * x(xb, 7)
        return part
    }

    /// Q4_1 block (20 bytes): half d, half m, 16 bytes of codes; weight j is d·q + m with q the
    /// low nibble of byte j (j < 16) or the high nibble of byte j − 16.
    static func dotQ4_1(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ sums: UnsafePointer<Float>, _ nb: Int) -> Float {
        var acc = Lanes(), offsets: Float = 0
        for b in 0 ..< nb {
            let block = w + b * 20
            // Not addProduct: without FMA hardware (baseline x86-64) that is an fmaf call per lane.
            acc += half(block, 0) * nibbleDot(block + 4, x + b * 32)
            offsets += half(block, 2) * sums[b]
        }
        return acc.sum() + offsets
    }

    /// Q4_0 block (18 bytes): half d, 16 bytes of codes; weight j is d·(q − 8): Σ (q − 8)·x is
    /// Σ q·x − 8 Σ x, so codes unpack as Q4_1's.
    static func dotQ4_0(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ nb: Int) -> Float {
        var acc = Lanes()
        for b in 0 ..< nb {
            let block = w + b * 18, xb = x + b * 32
            var xsum = Lanes()
            for g in 0 ..< 8 { xsum += Self.x(xb, g) }
            acc += half(block, 0) * (nibbleDot(block + 2, xb) - 8 * xsum)
        }
        return acc.sum()
    }

    /// Q8_0 block (34 bytes): half d, 32 signed bytes; weight j is d·q_j. A byte with its top
    /// bit flipped is q + 128 as an unsigned value, unpacked like a nibble and shifted back.
    static func dotQ8_0(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ nb: Int) -> Float {
        var acc = Lanes()
        for b in 0 ..< nb {
            let block = w + b * 34, xb = x + b * 32
            var part = Lanes()
            for h in 0 ..< 2 {
                let v = block.loadUnaligned(fromByteOffset: 2 + 16 * h, as: SIMD4<UInt32>.self) ^ 0x8080_8080
                for j in 0 ..< 4 { part += (floats(v &>> UInt32(8 * j) & 0xFF) - 128) * Self.x(xb, 4 * h + j) }
            }
            acc += half(block, 0) * part
        }
        return acc.sum()
    }
}
