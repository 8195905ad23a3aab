@testable import GRLHF
import Foundation
import Testing

/// The block kernels against the reference dequantization (`GGUFDequantize`, bit-exact with
/// `gguf.quants`) followed by a float64 product: random codes and scales, a row permutation,
/// several input rows, a bias; within the documented bound of 16-bit activations.
struct QuantizedMatrixTests {
    /// Random blocks of `type` for a [rows, cols] matrix, with finite, moderate half scales.
    static func blocks(_ type: GGMLType, rows: Int, cols: Int, rng: inout PCG32) -> [UInt8] {
        var bytes = (0 ..< rows * cols / 32 * type.typeSize).map { _ in UInt8(truncatingIfNeeded: rng.nextUInt32()) }
        for b in 0 ..< rows * cols / 32 {
            let scales = type.id == GGMLType.q4_1.id ? 2 : 1
            for s in 0 ..< scales {
                let value = Float16(Float(rng.nextUInt32() % 2000) / 1000 - 1) * (s == 0 ? 0.05 : 0.5)
                withUnsafeBytes(of: value.bitPattern.littleEndian) { h in
                    bytes[b * type.typeSize + 2 * s] = h[0]; bytes[b * type.typeSize + 2 * s + 1] = h[1]
                }
            }
        }
        return bytes
    }

    @Test(arguments: [GGMLType.q4_1, GGMLType.q4_0, GGMLType.q8_0])
    func matchesDequantizedProduct(_ type: GGMLType) throws {
        var rng = PCG32(seed: 7)
        let rows = 24, cols = 32 * 6, m = 3
        let bytes = Self.blocks(type, rows: rows, cols: cols, rng: &rng)
        let order = (0 ..< rows).map { ($0 * 7) % rows }  // 7 is coprime with 24: a permutation
        var w = [Float](repeating: 0, count: rows * cols)
        try bytes.withUnsafeBytes { try GGUFDequantize.run(type, name: "w", source: $0.baseAddress!, count: rows * cols, into: &w) }
        let x = (0 ..< m * cols).map { _ in Float(rng.nextUInt32() % 2001) / 1000 - 1 }
        let bias = (0 ..< rows).map { Float($0) / 10 }
        let q = try bytes.withUnsafeBytes { try QuantizedMatrix(type: type, rows: rows, cols: cols, source: $0.baseAddress!, rowOrder: order) }
        #expect(q.byteCount >= bytes.count)  // float32 scales
        var y = [Float](repeating: .nan, count: m * rows)
        q.multiply(x, m: m, bias: bias, into: &y)
        // Bound: float32 rounding, plus rounding each activation to 16 bits (at most half a step,
        // max|x of its block|/32767, times |w|).
        for i in 0 ..< m {
            for r in 0 ..< rows {
                var want = Double(bias[r]), magnitude = 0.0, rounding = 0.0
                for c in 0 ..< cols {
                    let (xv, wv) = (Double(x[i * cols + c]), Double(w[order[r] * cols + c]))
                    want += xv * wv
                    magnitude += abs(xv * wv)
                    let block = x[(i * cols + c) / 32 * 32 ..< (i * cols + c) / 32 * 32 + 32]
                    rounding += abs(wv) * Double(block.map(abs).max()!) / 32767 / 2
                }
                let error = abs(Double(y[i * rows + r]) - want)
                #expect(error <= rounding + 1e-5 * Swift.max(magnitude, 1), "\(type) row \(r) input \(i): \(y[i * rows + r]) vs \(want)")
            }
        }
    }

    /// The library-call-free half conversion equals Float16's on every bit pattern (NaNs as NaNs).
    @Test func halfConversionIsExact() {
        for bits in 0 ... UInt16.max {
            let got = withUnsafeBytes(of: bits) { QuantizedMatrix.half($0.baseAddress!, 0) }
            let want = Float(Float16(bitPattern: bits))
            #expect(want.isNaN ? got.isNaN : got.bitPattern == want.bitPattern, "half \(String(bits, radix: 16))")
            if !(want.isNaN ? got.isNaN : got.bitPattern == want.bitPattern) { return }
        }
    }

    @Test func refusesWhatItCannotMultiply() throws {
        let bytes = [UInt8](repeating: 0, count: 64)
        try bytes.withUnsafeBytes { p in
            #expect(throws: GRLHFError.self) { try QuantizedMatrix(type: .f16, rows: 1, cols: 32, source: p.baseAddress!) }
            #expect(throws: GRLHFError.self) { try QuantizedMatrix(type: .q8_0, rows: 1, cols: 16, source: p.baseAddress!) }
            #expect(throws: GRLHFError.self) { try QuantizedMatrix(type: .q8_0, rows: 1, cols: 32, source: p.baseAddress!, rowOrder: [1]) }
        }
    }

    /// Without gradients and for few rows the quantized path answers; otherwise the caller's.
    @Test func linearOnlyForDecodeWithoutGradients() throws {
        var rng = PCG32(seed: 3)
        let bytes = Self.blocks(.q8_0, rows: 4, cols: 32, rng: &rng)
        let q = try bytes.withUnsafeBytes { try QuantizedMatrix(type: .q8_0, rows: 4, cols: 32, source: $0.baseAddress!) }
        let x = Tensor(zeros: [1, 2, 32])
        #expect(q.linear(x, bias: nil) == nil)  // gradients are on by default
        withNoGrad {
            #expect(q.linear(x, bias: nil)?.shape == [1, 2, 4])
            #expect(q.linear(Tensor(zeros: [5, 32]), bias: nil) == nil)
        }
    }
}
