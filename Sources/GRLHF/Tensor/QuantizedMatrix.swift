/// A weight matrix [rows, cols] from one of ggml's block formats (Q8_0, Q4_0, Q4_1: 32 weights a
/// block, a half-precision scale d, for Q4_1 also an offset m), multiplied by activations without
/// ever expanding it to float32. Single-stream decode reads every weight once per token, so its
/// time is the bytes read: 4-bit codes are 6 bits a weight with their scales, float32 32.
///
/// The product runs in integers, as llama.cpp's does, but with 16-bit activations where llama.cpp
/// uses 8: each block of 32 activations becomes int16 codes with one float scale (max|x|/32767,
/// round to nearest), so a weight code times an activation code is one lane of `pmaddwd` (SSE2:
/// eight products and four sums per instruction), summed per block in int32 and scaled once.
/// The codes are the file's bits (rows reordered where asked); d and m are stored as float32
/// beside them. Q4_1's offset adds m·Σx per block, Q4_0's −8d·Σx, from float sums of x.
///
/// Rounding x to 16 bits moves each product by at most |w|·max|x|/65534 (a relative 1.5e-5 of
/// the block's largest activation); the float32 path on the same weights differs by that and
/// by summation order.
public final class QuantizedMatrix {
    public let type: GGMLType
    public let rows: Int, cols: Int
    /// Code bytes per block (16 for 4-bit, 32 for 8-bit) and blocks per row.
    let codeBytes: Int, blocks: Int
    let codes: UnsafeMutableRawPointer
    /// Per block: d, and the offset per weight (Q4_1's m, Q4_0's −8d); no offsets for Q8_0.
    let scales: UnsafeMutablePointer<Float>
    let offsets: UnsafeMutablePointer<Float>?

    /// 0xF, read at run time (see `dot4`); set through a condition, since Swift propagates a
    /// `let` that every initializer sets to one literal.
    let nibble: Int16

    /// The formats with a kernel.
    public static let types: Set<UInt32> = [GGMLType.q8_0.id, GGMLType.q4_0.id, GGMLType.q4_1.id]

    /// Copies `rows` rows of ggml blocks from `source` (`rowOrder[r]`: the source row of row r;
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
        blocks = cols / 32
        nibble = rows > 0 ? 0xF : 0
        codeBytes = type.id == GGMLType.q8_0.id ? 32 : 16
        codes = .allocate(byteCount: rows * blocks * codeBytes, alignment: 64)
        scales = .allocate(capacity: rows * blocks)
        offsets = type.id == GGMLType.q8_0.id ? nil : .allocate(capacity: rows * blocks)
        let headerBytes = type.typeSize - codeBytes  // the half scale (and Q4_1's half offset) before the codes
        for r in 0 ..< rows {
            let row = source + (rowOrder?[r] ?? r) * blocks * type.typeSize
            for b in 0 ..< blocks {
                let block = row + b * type.typeSize, slot = r * blocks + b
                (codes + slot * codeBytes).copyMemory(from: block + headerBytes, byteCount: codeBytes)
                scales[slot] = Self.half(block, 0)
                if type.id == GGMLType.q4_1.id { offsets![slot] = Self.half(block, 2) }
                if type.id == GGMLType.q4_0.id { offsets![slot] = -8 * scales[slot] }
            }
        }
    }

    deinit {
        codes.deallocate(); scales.deallocate(); offsets?.deallocate()
    }

    /// Bytes one multiply reads: codes, scales and offsets.
    public var byteCount: Int { rows * blocks * (codeBytes + (offsets == nil ? 4 : 8)) }

    /// The weight each int16 activation lane multiplies: group g of a block's activations, lane i
    /// (eight lanes, as a 16-byte load of codes splits into 16-bit lanes). For 4-bit codes, lane i
    /// holds bytes 2i and 2i+1, so nibble g of the lane (bits 4g…4g+3) is weight 2i, 16 + 2i,
    /// 2i + 1 or 17 + 2i; for 8-bit codes, the low and high byte of lane i of the first and
    /// second 16 bytes are the same four weights.
    static let laneWeights: [Int] = (0 ..< 32).map { k in let (g, i) = (k / 8, k % 8); return [2 * i, 16 + 2 * i, 2 * i + 1, 17 + 2 * i][g] }

    /// y[i, r] = Σ_c x[i, c] · W[r, c] (+ bias[r]) for `m` rows of x: x·Wᵀ, as `Tensor.linear`.
    public func multiply(_ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
        let blocks = self.blocks
        // Each row of x as int16 codes in lane order, with each block's scale and float sum.
        var xq = [Int16](repeating: 0, count: m * cols), xScale = [Float](repeating: 0, count: m * blocks)
        var xSum = [Float](repeating: 0, count: m * blocks)
        for k in 0 ..< m * blocks {
            let block = x + k * 32
            var largest: Float = 0, sum: Float = 0
            for j in 0 ..< 32 { largest = Swift.max(largest, abs(block[j])); sum += block[j] }
            guard largest > 0, largest.isFinite else { xScale[k] = largest.isFinite ? 0 : .nan; continue }
            let inverse = 32767 / largest
            // Round to nearest by adding and removing 1.5·2²³ (|values| ≤ 32767): `rounded()` is a
            // libm call on the baseline target.
            for (lane, weight) in Self.laneWeights.enumerated() { xq[k * 32 + lane] = Int16((block[weight] * inverse + 0x1.8p23) - 0x1.8p23) }
            (xScale[k], xSum[k]) = (largest / 32767, sum)
        }
        let (codes, scales, offsets, codeBytes, rows, fourBit) = (self.codes, self.scales, self.offsets, self.codeBytes, self.rows, codeBytes == 16)
        let nibble = self.nibble
        xq.withUnsafeBufferPointer { xq in xScale.withUnsafeBufferPointer { xScale in xSum.withUnsafeBufferPointer { xSum in
            parallelChunks(rows, cost: m * cols) { range in
                for r in range {
                    let w = UnsafeRawPointer(codes + r * blocks * codeBytes), d = scales + r * blocks
                    for i in 0 ..< m {
                        let xi = xq.baseAddress! + i * cols, si = xScale.baseAddress! + i * blocks
                        var dot = fourBit
                            ? Self.dot4(w, d, xi, si, offsets! + r * blocks, xSum.baseAddress! + i * blocks, blocks, nibble: nibble)
                            : Self.dot8(w, d, xi, si, blocks)
                        if let bias { dot += bias[r] }
                        y[i * rows + r] = dot
                    }
                }
            }
        } } }
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

    typealias Codes = SIMD8<Int16>

    /// Pairwise products summed into four lanes; LLVM emits one `pmaddwd` for it.
    @inline(__always) static func madd(_ a: Codes, _ b: Codes) -> SIMD4<Int32> {
        let p = SIMD8<Int32>(truncatingIfNeeded: a) &* SIMD8<Int32>(truncatingIfNeeded: b)
        return p.evenHalf &+ p.oddHalf
    }

    @inline(__always) static func group(_ x: UnsafePointer<Int16>, _ g: Int) -> Codes {
        UnsafeRawPointer(x + 8 * g).loadUnaligned(as: Codes.self)
    }

    /// Σ_b d_b · sx_b · Σ q·xq + offset_b · Σ x over 4-bit blocks.
    /// `nibble` is 0xF, passed in rather than written as a literal: knowing the codes fit in a
    /// byte, LLVM packed and unpacked them around every `pmaddwd` (twice the instructions).
    static func dot4(_ w: UnsafeRawPointer, _ d: UnsafePointer<Float>, _ x: UnsafePointer<Int16>, _ sx: UnsafePointer<Float>,
                     _ offsets: UnsafePointer<Float>, _ sums: UnsafePointer<Float>, _ blocks: Int, nibble: Int16) -> Float {
        let mask = Codes(repeating: nibble)
        var acc = SIMD4<Float>(), offset: Float = 0
        for b in 0 ..< blocks {
            let v = (w + 16 * b).loadUnaligned(as: Codes.self), xb = x + 32 * b
            let s = (madd(v & mask, group(xb, 0)) &+ madd(v &>> 4 & mask, group(xb, 1)))
                &+ (madd(v &>> 8 & mask, group(xb, 2)) &+ madd(v &>> 12 & mask, group(xb, 3)))
            acc += SIMD4<Float>(s) * (d[b] * sx[b])
            offset += offsets[b] * sums[b]
        }
        return acc.sum() + offset
    }

    /// Σ_b d_b · sx_b · Σ q·xq over 8-bit blocks: each 16-bit lane's low byte sign-extended by
    /// shifting up and arithmetically back, its high byte by the arithmetic shift alone.
    static func dot8(_ w: UnsafeRawPointer, _ d: UnsafePointer<Float>, _ x: UnsafePointer<Int16>, _ sx: UnsafePointer<Float>,
                     _ blocks: Int) -> Float {
        var acc = SIMD4<Float>()
        for b in 0 ..< blocks {
            let lo = (w + 32 * b).loadUnaligned(as: Codes.self), hi = (w + 32 * b + 16).loadUnaligned(as: Codes.self), xb = x + 32 * b
            let s = (madd((lo &<< 8) &>> 8, group(xb, 0)) &+ madd((hi &<< 8) &>> 8, group(xb, 1)))
                &+ (madd(lo &>> 8, group(xb, 2)) &+ madd(hi &>> 8, group(xb, 3)))
            acc += SIMD4<Float>(s) * (d[b] * sx[b])
        }
        return acc.sum()
    }
}
