import Foundation
import Testing
@testable import GRLHF

func maxAbsDiff(_ a: Tensor, _ b: [Float]) -> Float {
    zip(a.scalars, b).map { abs($0 - $1) }.max() ?? 0
}

@Suite struct TensorCore {
    @Test func pcg32MatchesTheReferenceStream() {
        // pcg32-demo from the PCG paper's C implementation: pcg32_srandom_r(&rng, 42, 54).
        var rng = PCG32(seed: 42, stream: 54)
        let got = (0..<6).map { _ in rng.nextUInt32() }
        #expect(got == [0xa15c_02b7, 0x7b47_f409, 0xba1d_3330, 0x83d2_f293, 0xbfa4_784b, 0xcbed_606e])
    }

    @Test func seededTensorsReproduce() {
        var a = PCG32(seed: 9), b = PCG32(seed: 9), c = PCG32(seed: 10)
        let x = Tensor.randn([100], rng: &a), y = Tensor.randn([100], rng: &b), z = Tensor.randn([100], rng: &c)
        #expect(x.scalars == y.scalars)
        #expect(x.scalars != z.scalars)
        let mean = x.scalars.reduce(0, +) / 100
        #expect(abs(mean) < 0.3)
        var u = PCG32(seed: 3)
        let uni = Tensor.uniform([1000], low: -2, high: 5, rng: &u).scalars
        #expect(uni.allSatisfy { $0 >= -2 && $0 < 5 })
    }

    @Test func creation() {
        #expect(Tensor.zeros(2, 3).scalars == [0, 0, 0, 0, 0, 0] && Tensor.ones(2).scalars == [1, 1])
        #expect(Tensor(repeating: 7, shape: [2]).scalars == [7, 7] && Tensor(scalar: 3).shape == [])
        #expect(Tensor([1, 2, 3, 4], shape: [2, 2]).shape == [2, 2] && Tensor(zeros: [0, 4]).count == 0)
    }

    @Test func viewsShareStorage() {
        let x = Tensor((0..<12).map(Float.init), shape: [3, 4])
        let r = x.reshape(4, 3), s = x.slice(axis: 0, 1..<3)
        #expect(r.storage === x.storage && s.storage === x.storage)
        #expect(s.scalars == (4..<12).map(Float.init))
        let t = x.transpose()
        #expect(t.shape == [4, 3] && t.scalars == [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11])
        let parts = x.split(axis: 1, sizes: [1, 3])
        #expect(parts[0].scalars == [0, 4, 8])
        #expect(Tensor.concat(parts, axis: 1).scalars == x.scalars)
    }

    @Test func broadcastingArithmetic() {
        let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        #expect((a + Tensor([10, 20, 30], shape: [3])).scalars == [11, 22, 33, 14, 25, 36])
        #expect((a * Tensor([2, 3], shape: [2, 1])).scalars == [2, 4, 6, 12, 15, 18])
        #expect((Tensor([1, 2], shape: [2, 1, 1]) - Tensor([1, 2, 3], shape: [1, 3])).shape == [2, 1, 3])
        #expect((a / Tensor(scalar: 2)).scalars == [0.5, 1, 1.5, 2, 2.5, 3])
        #expect((a * 2 + 1).scalars == [3, 5, 7, 9, 11, 13])
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matmulMatchesNaive(_ flags: (Bool, Bool)) {
        let (ta, tb) = flags
        var rng = PCG32(seed: 5)
        let (m, n, k) = (37, 29, 53)
        let a = Tensor.randn(ta ? [k, m] : [m, k], rng: &rng), b = Tensor.randn(tb ? [n, k] : [k, n], rng: &rng)
        let c = a.matmul(b, transposeA: ta, transposeB: tb)
        var expected = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var s: Double = 0
            for p in 0..<k {
                s += Double(ta ? a.data[p * m + i] : a.data[i * k + p]) * Double(tb ? b.data[j * k + p] : b.data[p * n + j])
            }
            expected[i * n + j] = Float(s)
        } }
        #expect(maxAbsDiff(c, expected) < 1e-4)
        // Batched form: every batch equals the 2-D product.
        let a2 = Tensor.concat([a.reshape([1] + a.shape), a.reshape([1] + a.shape)], axis: 0)
        let b2 = Tensor.concat([b.reshape([1] + b.shape), b.reshape([1] + b.shape)], axis: 0)
        let c2 = a2.bmm(b2, transposeA: ta, transposeB: tb)
        #expect(maxAbsDiff(c2, expected + expected) < 1e-4)
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func singleRowProductsMatchNaive(_ flags: (Bool, Bool)) {  // m = 1 takes the sgemv path
        let (ta, tb) = flags
        var rng = PCG32(seed: 6)
        let (n, k) = (29, 53)
        let a = Tensor.randn(ta ? [k, 1] : [1, k], rng: &rng), b = Tensor.randn(tb ? [n, k] : [k, n], rng: &rng)
        let c = a.matmul(b, transposeA: ta, transposeB: tb)
        let expected = (0..<n).map { j in
            Float((0..<k).map { p in Double(a.data[p]) * Double(tb ? b.data[j * k + p] : b.data[p * n + j]) }.reduce(0, +))
        }
        #expect(c.shape == [1, n] && maxAbsDiff(c, expected) < 1e-4)
        let bias = Tensor.randn([n], rng: &rng), w = Tensor.randn([n, k], rng: &rng), x = Tensor.randn([k], rng: &rng)
        let y = Tensor.linear(x, weight: w, bias: bias)  // a decode step: one row with a bias
        let ref = (0..<n).map { j in bias.data[j] + Float((0..<k).map { Double(w.data[j * k + $0]) * Double(x.data[$0]) }.reduce(0, +)) }
        #expect(y.shape == [n] && maxAbsDiff(y, ref) < 1e-4)
    }

    @Test func expAndGeluAreAccurate() {
        let xs = stride(from: -80.0, through: 80.0, by: 0.37).map { Float($0) }
        let e = Tensor(xs, shape: [xs.count]).exp().scalars
        for (x, y) in zip(xs, e) {
            let ref = Foundation.exp(Double(x))
            #expect(abs(Double(y) - ref) <= 3e-7 * ref, "exp(\(x)) = \(y), expected \(ref)")
        }
        let g = Tensor(xs.map { $0 / 8 }, shape: [xs.count]).gelu().scalars
        for (x, y) in zip(xs.map { Double($0 / 8) }, g) {
            let ref = 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
            #expect(abs(Double(y) - ref) < 2e-6 * max(1, abs(ref)))
        }
        #expect(Tensor([-1e4, 1e4, .infinity], shape: [3]).exp().scalars.allSatisfy { !$0.isNaN })
    }

    @Test func softmaxFamilyStaysFiniteAtHugeLogits() {
        let x = Tensor([1e4, -1e4, 0, 1e4 - 1], shape: [1, 4])
        let p = x.softmax().scalars
        #expect(p.allSatisfy(\.isFinite) && abs(p.reduce(0, +) - 1) < 1e-6)
        #expect(abs(p[0] - 1 / (1 + Float(Foundation.exp(-1.0)))) < 1e-6)
        let lp = x.logSoftmax().scalars
        #expect(lp.allSatisfy(\.isFinite) && abs(lp[1] - (-2e4 - log1p(Foundation.exp(-1)))) < 1)
        let ce = x.crossEntropy(targets: [1]).item
        #expect(ce.isFinite && abs(ce - 2e4) < 2)
        // A fully masked row is zeros (log-softmax: −inf), not NaN.
        let masked = Tensor([-.infinity, -.infinity], shape: [1, 2])
        #expect(masked.softmax().scalars == [0, 0] && masked.logSoftmax().scalars == [-.infinity, -.infinity])
        // Every target ignored: loss 0 and zero gradient.
        let y = Tensor([1, 2, 3, 4], shape: [2, 2]); y.requiresGrad = true
        let none = y.crossEntropy(targets: [-100, -100])
        none.backward()
        #expect(none.item == 0 && y.grad!.scalars == [0, 0, 0, 0])
    }

    @Test func crossEntropyMatchesDefinition() {
        var rng = PCG32(seed: 2)
        let x = Tensor.randn([3, 7], rng: &rng)
        let targets: [Int32] = [6, 0, 3]
        var expected: Double = 0
        for r in 0..<3 {
            let row = (0..<7).map { Double(x.data[r * 7 + $0]) }
            expected += log(row.map { Foundation.exp($0) }.reduce(0, +)) - row[Int(targets[r])]
        }
        #expect(abs(Double(x.crossEntropy(targets: targets).item) - expected / 3) < 1e-5)
    }

    @Test func normsMatchDefinitions() {
        var rng = PCG32(seed: 4)
        let x = Tensor.randn([2, 40], rng: &rng), w = Tensor.randn([40], rng: &rng), b = Tensor.randn([40], rng: &rng)
        let ln = x.layerNorm(weight: w, bias: b).scalars, rms = x.rmsNorm(weight: w, eps: 1e-6).scalars
        for r in 0..<2 {
            let row = (0..<40).map { Double(x.data[r * 40 + $0]) }
            let mean = row.reduce(0, +) / 40
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 40
            let ms = row.map { $0 * $0 }.reduce(0, +) / 40
            for i in 0..<40 {
                let l = (row[i] - mean) / (variance + 1e-5).squareRoot() * Double(w.data[i]) + Double(b.data[i])
                let q = row[i] / (ms + 1e-6).squareRoot() * Double(w.data[i])
                #expect(abs(Double(ln[r * 40 + i]) - l) < 1e-5)
                #expect(abs(Double(rms[r * 40 + i]) - q) < 1e-5)
            }
        }
    }

    @Test func ropeLayoutsAgreeUpToAPermutation() {
        var rng = PCG32(seed: 8)
        let d = 8, heads = 2
        let x = Tensor.randn([3, heads * d], rng: &rng)
        // Reorder each head from half-split to adjacent pairs: (i, i + d/2) → (2i, 2i + 1).
        func toAdjacent(_ t: Tensor) -> [Float] {
            var out = t.scalars
            for r in 0..<3 { for h in 0..<heads { for i in 0..<(d / 2) {
                out[r * heads * d + h * d + 2 * i] = t.data[r * heads * d + h * d + i]
                out[r * heads * d + h * d + 2 * i + 1] = t.data[r * heads * d + h * d + i + d / 2]
            } } }
            return out
        }
        let positions = [0, 3, 11]
        let half = x.rope(heads: heads, positions: positions, layout: .halfSplit)
        let adjacent = Tensor(toAdjacent(x), shape: x.shape).rope(heads: heads, positions: positions, layout: .adjacentPairs)
        #expect(maxAbsDiff(adjacent, toAdjacent(half)) < 1e-6)
        // Position 0 is the identity; rotations keep the norm.
        #expect(maxAbsDiff(half.slice(axis: 0, 0..<1), Array(x.scalars[0..<16])) < 1e-7)
        let n0 = x.scalars.map { $0 * $0 }.reduce(0, +), n1 = half.scalars.map { $0 * $0 }.reduce(0, +)
        #expect(abs(n0 - n1) < 1e-4)
    }

    @Test func fusedAttentionMatchesComposedOps() {
        var rng = PCG32(seed: 11)
        let (b, t, h, d) = (2, 6, 3, 4)
        let q = Tensor.randn([b, t, h * d], rng: &rng), k = Tensor.randn([b, t, h * d], rng: &rng), v = Tensor.randn([b, t, h * d], rng: &rng)
        let fused = Tensor.attention(q: q, k: k, v: v, heads: h, keyLengths: [6, 4])
        func heads(_ x: Tensor) -> Tensor { x.reshape(b, t, h, d).transpose(1, 2) }  // [B, H, T, D]
        let scores = heads(q).bmm(heads(k), transposeB: true) * (1 / Float(d).squareRoot())
        let masked = scores.maskedFill(Tensor.causalMask(t), value: -.infinity)
            .maskedFill(Tensor.paddingMask(lengths: [6, 4], maxLength: t), value: -.infinity)
        let composed = masked.softmax().bmm(heads(v)).transpose(1, 2).reshape(b, t, h * d)
        #expect(maxAbsDiff(fused, composed.scalars) < 1e-5)
    }

    @Test func reductions() {
        let x = Tensor([1, 5, 3, 4, 2, 6], shape: [2, 3])
        #expect(x.sum().item == 21 && x.mean().item == 3.5)
        #expect(x.sum(axis: 0).scalars == [5, 7, 9] && x.mean(axis: 1).scalars == [3, 4])
        #expect(x.max(axis: 1).scalars == [5, 6] && x.max(axis: 0).scalars == [4, 5, 6])
        #expect(x.gather(lastAxis: [2, 0]).scalars == [3, 4])
    }

    @Test func blasKernelChoiceFollowsCPUFlags() {
        let intel = "vendor_id\t: GenuineIntel\nflags\t\t: fpu avx2 fma avx512f avx512vl avx512bw avx512dq avx512_bf16\n"
        #expect(OpenBLAS.preferredCore(cpuinfo: intel) == "Cooperlake")
        #expect(OpenBLAS.preferredCore(cpuinfo: intel.replacingOccurrences(of: " avx512_bf16", with: "")) == "SkylakeX")
        #expect(OpenBLAS.preferredCore(cpuinfo: "vendor_id\t: GenuineIntel\nflags\t\t: avx2 fma\n") == "Haswell")
        #expect(OpenBLAS.preferredCore(cpuinfo: "vendor_id\t: AuthenticAMD\nflags\t\t: avx2 fma avx512f\n") == nil)
    }
}
