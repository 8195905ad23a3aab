import Foundation
import Testing
@testable import GRLHF

/// One gradient-check scenario: inputs to differentiate (and constants captured by `f`).
struct GradCase {
    let name: String
    let inputs: [Tensor]
    let f: ([Tensor]) -> Tensor
}

/// Every registered op needs at least one case here; `everyOpHasACase` enforces it.
let gradCases: [Op: [GradCase]] = {
    var rng = PCG32(seed: 7)
    func r(_ shape: Int..., scale: Float = 1) -> Tensor { Tensor.randn(shape, std: scale, rng: &rng) }
    func positive(_ shape: Int...) -> Tensor { Tensor.uniform(shape, low: 0.5, high: 2, rng: &rng) }
    var c: [Op: [GradCase]] = [:]
    c[.add] = [GradCase(name: "same", inputs: [r(3, 4), r(3, 4)]) { $0[0] + $0[1] },
               GradCase(name: "row broadcast", inputs: [r(2, 3, 4), r(4)]) { $0[0] + $0[1] },
               GradCase(name: "general broadcast", inputs: [r(2, 1, 4), r(3, 1)]) { $0[0] + $0[1] },
               GradCase(name: "scalar", inputs: [r(5), r(1)]) { $0[0] + $0[1] },
               GradCase(name: "empty", inputs: [r(0, 3), r(3)]) { $0[0] + $0[1] }]
    c[.sub] = [GradCase(name: "broadcast", inputs: [r(4), r(3, 4)]) { $0[0] - $0[1] }]
    c[.mul] = [GradCase(name: "same", inputs: [r(3, 5), r(3, 5)]) { $0[0] * $0[1] },
               GradCase(name: "broadcast", inputs: [r(2, 3, 1), r(1, 4)]) { $0[0] * $0[1] }]
    c[.div] = [GradCase(name: "broadcast", inputs: [r(3, 4), positive(4)]) { $0[0] / $0[1] }]
    c[.scale] = [GradCase(name: "scale", inputs: [r(7)]) { $0[0] * 2.5 }]
    c[.addScalar] = [GradCase(name: "shift", inputs: [r(7)]) { $0[0] + 1.5 }]
    c[.exp] = [GradCase(name: "exp", inputs: [r(20)]) { $0[0].exp() }]
    c[.log] = [GradCase(name: "log", inputs: [positive(3, 6)]) { $0[0].log() }]
    c[.matmul] = [GradCase(name: "plain", inputs: [r(2, 3, 4), r(4, 5)]) { $0[0].matmul($0[1]) },
                  GradCase(name: "transB", inputs: [r(3, 4), r(5, 4)]) { $0[0].matmul($0[1], transposeB: true) },
                  GradCase(name: "transA", inputs: [r(4, 3), r(4, 5)]) { $0[0].matmul($0[1], transposeA: true) },
                  GradCase(name: "both", inputs: [r(4, 3), r(5, 4)]) { $0[0].matmul($0[1], transposeA: true, transposeB: true) }]
    c[.bmm] = [GradCase(name: "plain", inputs: [r(2, 3, 4), r(2, 4, 5)]) { $0[0].bmm($0[1]) },
               GradCase(name: "transA transB", inputs: [r(2, 4, 3), r(2, 5, 4)]) { $0[0].bmm($0[1], transposeA: true, transposeB: true) }]
    c[.softmax] = [GradCase(name: "rows", inputs: [r(3, 19)]) { $0[0].softmax() }]
    c[.logSoftmax] = [GradCase(name: "rows", inputs: [r(3, 21)]) { $0[0].logSoftmax() }]
    c[.rmsNorm] = [GradCase(name: "rows", inputs: [r(3, 20), positive(20)]) { $0[0].rmsNorm(weight: $0[1], eps: 1e-5) }]
    c[.layerNorm] = [GradCase(name: "with bias", inputs: [r(3, 18), positive(18), r(18)]) { $0[0].layerNorm(weight: $0[1], bias: $0[2]) },
                     GradCase(name: "no bias", inputs: [r(2, 33), positive(33)]) { $0[0].layerNorm(weight: $0[1], bias: nil) }]
    c[.gelu] = [GradCase(name: "gelu", inputs: [r(37, scale: 2)]) { $0[0].gelu() }]
    c[.silu] = [GradCase(name: "silu", inputs: [r(37, scale: 2)]) { $0[0].silu() }]
    c[.swiglu] = [GradCase(name: "swiglu", inputs: [r(3, 17), r(3, 17)]) { Tensor.swiglu(gate: $0[0], up: $0[1]) }]
    c[.rope] = [GradCase(name: "adjacent", inputs: [r(2, 3, 8)]) { $0[0].rope(heads: 2, positions: [0, 5, 9], layout: .adjacentPairs) },
                GradCase(name: "half split, per row", inputs: [r(2, 2, 12)]) { $0[0].rope(heads: 3, positions: [1, 2, 3, 4], layout: .halfSplit) }]
    let ids: [Int32] = [3, 1, 3, 0, 2]
    c[.embedding] = [GradCase(name: "repeated ids", inputs: [r(4, 6)]) { Tensor.embedding($0[0], ids: ids) }]
    c[.crossEntropy] = [GradCase(name: "ignore index", inputs: [r(4, 9)]) { $0[0].crossEntropy(targets: [2, -100, 8, 0]) }]
    c[.sum] = [GradCase(name: "all", inputs: [r(3, 4)]) { $0[0].sum() },
               GradCase(name: "axis 1", inputs: [r(2, 3, 4)]) { $0[0].sum(axis: 1) }]
    c[.mean] = [GradCase(name: "all", inputs: [r(3, 4)]) { $0[0].mean() },
                GradCase(name: "last axis", inputs: [r(2, 3, 4)]) { $0[0].mean(axis: -1) }]
    c[.max] = [GradCase(name: "axis 0", inputs: [Tensor((0..<12).map { Float(($0 * 7) % 12) }, shape: [3, 4])]) { $0[0].max(axis: 0) }]
    c[.reshape] = [GradCase(name: "view", inputs: [r(2, 6)]) { $0[0].reshape(3, -1) * $0[0].reshape(3, 4) }]
    c[.transpose] = [GradCase(name: "last two", inputs: [r(2, 3, 4)]) { $0[0].transpose() },
                     GradCase(name: "outer", inputs: [r(2, 3, 4)]) { $0[0].transpose(0, 2) }]
    c[.slice] = [GradCase(name: "view on axis 0", inputs: [r(5, 3)]) { $0[0].slice(axis: 0, 1..<4) },
                 GradCase(name: "copy on last axis", inputs: [r(2, 3, 6)]) { $0[0].split(axis: -1, sizes: [2, 4])[1] }]
    c[.concat] = [GradCase(name: "axis 1", inputs: [r(2, 3), r(2, 1), r(2, 2)]) { Tensor.concat($0, axis: 1) }]
    c[.linear] = [GradCase(name: "bias", inputs: [r(2, 3, 4), r(5, 4), r(5)]) { Tensor.linear($0[0], weight: $0[1], bias: $0[2]) },
                  GradCase(name: "no bias", inputs: [r(3, 4), r(2, 4)]) { Tensor.linear($0[0], weight: $0[1], bias: nil) }]
    c[.gather] = [GradCase(name: "last axis", inputs: [r(3, 5)]) { $0[0].gather(lastAxis: [4, 0, 2]) }]
    c[.maskedFill] = [GradCase(name: "causal", inputs: [r(2, 4, 4)]) { $0[0].maskedFill(Tensor.causalMask(4), value: -1e9).softmax() }]
    c[.attention] = [
        GradCase(name: "causal", inputs: [r(2, 5, 8), r(2, 5, 8), r(2, 5, 8)]) { Tensor.attention(q: $0[0], k: $0[1], v: $0[2], heads: 2) },
        GradCase(name: "grouped query, cached prefix", inputs: [r(1, 3, 12), r(1, 5, 4), r(1, 5, 4)]) {
            Tensor.attention(q: $0[0], k: $0[1], v: $0[2], heads: 3, kvHeads: 1) },
        GradCase(name: "q, k and v one tensor", inputs: [r(2, 4, 6)]) { Tensor.attention(q: $0[0], k: $0[0], v: $0[0], heads: 2) },
        GradCase(name: "packed qkv, grouped query", inputs: [r(2, 4, 12)]) { Tensor.attention(qkv: $0[0], heads: 2, kvHeads: 1) },
        GradCase(name: "padding, not causal", inputs: [r(2, 4, 6), r(2, 4, 6), r(2, 4, 6)]) {
            Tensor.attention(q: $0[0], k: $0[1], v: $0[2], heads: 2, causal: false, keyLengths: [4, 2]) },
    ]
    // Convolutions in every path: im2col (stem-like 3x3 stride 2, 5x5, 1x1 with stride), plain
    // sgemm (1x1), depthwise 3x3 and 5x5 with and without stride; odd and even sizes.
    c[.conv2d] = [
        GradCase(name: "3x3 stride 2, bias", inputs: [r(2, 3, 7, 6), r(4, 3, 3, 3), r(4)]) {
            Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], stride: 2) },
        GradCase(name: "1x1 pointwise, bias", inputs: [r(2, 5, 3, 4), r(3, 5, 1, 1), r(3)]) {
            Tensor.conv2d($0[0], weight: $0[1], bias: $0[2]) },
        GradCase(name: "1x1 stride 2", inputs: [r(1, 3, 5, 4), r(2, 3, 1, 1)]) { Tensor.conv2d($0[0], weight: $0[1], stride: 2) },
        GradCase(name: "5x5 dense, no padding", inputs: [r(1, 2, 6, 7), r(2, 2, 5, 5)]) {
            Tensor.conv2d($0[0], weight: $0[1], padding: 0) },
        GradCase(name: "depthwise 3x3, bias", inputs: [r(2, 3, 5, 6), r(3, 1, 3, 3), r(3)]) {
            Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], groups: 3) },
        GradCase(name: "depthwise 5x5 stride 2", inputs: [r(1, 2, 8, 7), r(2, 1, 5, 5)]) {
            Tensor.conv2d($0[0], weight: $0[1], stride: 2, groups: 2) },
        GradCase(name: "depthwise 3x3 stride 2, wide rows", inputs: [r(1, 2, 4, 37), r(2, 1, 3, 3), r(2)]) {
            Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], stride: 2, groups: 2) },
        GradCase(name: "depthwise 3x3, wide rows", inputs: [r(1, 2, 3, 35), r(2, 1, 3, 3)]) {
            Tensor.conv2d($0[0], weight: $0[1], groups: 2) },
    ]
    // Values kept away from the kinks at 0 and 6, where a central difference straddles them.
    c[.relu6] = [GradCase(name: "relu6", inputs: [Tensor((0..<40).map { Float($0) * 0.23 - 2.1 }, shape: [40])]) { $0[0].relu6() }]
    c[.globalAveragePool] = [GradCase(name: "planes", inputs: [r(2, 3, 4, 5)]) { $0[0].globalAveragePool() }]
    return c
}()

/// Checks analytic gradients against central differences. Ops run in float32, so the difference
/// quotient uses a float-sized step (1e-2) and sums the weighted outputs in Double; the bound
/// |analytic − numeric| ≤ 1e-3 + 1e-2·|numeric| is the float32 bound of reliability.md (test 1).
func gradcheck(_ c: GradCase, seed: UInt64) -> [String] {
    var rng = PCG32(seed: seed)
    let inputs = c.inputs.map { t -> Tensor in let x = t.copy(); x.requiresGrad = true; return x }
    let out = c.f(inputs)
    let w = Tensor.randn(out.shape, rng: &rng)  // random output weights: Σ softmax would be flat
    out.backward(seed: w)
    func objective() -> Double {
        let y = withNoGrad { c.f(inputs) }
        var s: Double = 0
        for i in 0..<y.count { s += Double(y.data[i]) * Double(w.data[i]) }
        return s
    }
    var failures: [String] = []
    let eps: Float = 1e-2
    for (k, x) in inputs.enumerated() {
        let analytic = x.grad ?? Tensor(zeros: x.shape)
        for i in 0..<x.count {
            let saved = x.data[i]
            x.data[i] = saved + eps; let up = objective()
            x.data[i] = saved - eps; let down = objective()
            x.data[i] = saved
            let numeric = (up - down) / (2 * Double(eps))
            let a = Double(analytic.data[i])
            if abs(a - numeric) > 1e-3 + 1e-2 * abs(numeric) {
                failures.append("\(c.name): input \(k)[\(i)] analytic \(a) numeric \(numeric)")
            }
        }
    }
    return failures
}

@Suite struct Gradcheck {
    @Test func everyOpHasACase() {
        let missing = Op.allCases.filter { gradCases[$0]?.isEmpty ?? true }
        #expect(missing.isEmpty, "ops without a gradcheck case: \(missing)")
    }

    @Test(arguments: Op.allCases)
    func op(_ op: Op) {
        for c in gradCases[op] ?? [] {
            for seed: UInt64 in [1, 2] {
                let failures = gradcheck(c, seed: seed)
                #expect(failures.isEmpty, "\(op): \(failures.prefix(5))")
            }
        }
    }

    @Test func gradcheckCatchesAWrongGradient() {
        // A deliberately wrong VJP (twice the true gradient) must fail the check.
        let bad = GradCase(name: "wrong", inputs: [Tensor([0.3, -1.2, 2], shape: [3])]) { x in
            record(.scale, [x[0]], x[0].detached().scaled(by: 3)) { g in [g.scaled(by: 6)] }
        }
        #expect(!gradcheck(bad, seed: 1).isEmpty)
    }
}

/// Every op's forward and gradients with the work split across two threads (threshold 0, so
/// even these small cases take the parallel paths: row-split products, attention items, chunked
/// kernels) must equal the one-thread results bit for bit. Serialized: it changes process-wide
/// settings; values computed by tests running beside it do not depend on them.
@Suite(.serialized) struct ThreadedExecution {
    func run(_ c: GradCase) -> [[Float]] {
        let inputs = c.inputs.map { t -> Tensor in let x = t.copy(); x.requiresGrad = true; return x }
        let out = c.f(inputs)
        var rng = PCG32(seed: 3)
        out.backward(seed: Tensor.randn(out.shape, rng: &rng))
        return [out.scalars] + inputs.map { $0.grad?.scalars ?? [] }
    }

    @Test func everyOpMatchesOneThread() {
        let saved = (Runtime.computeThreads, Runtime.parallelThreshold)
        defer { Runtime.computeThreads = saved.0; Runtime.parallelThreshold = saved.1 }
        for op in Op.allCases {
            for c in gradCases[op] ?? [] {
                Runtime.computeThreads = 1; Runtime.parallelThreshold = saved.1
                let serial = run(c)
                Runtime.computeThreads = 2; Runtime.parallelThreshold = 0
                let parallel = run(c)
                #expect(serial == parallel, "\(op) \(c.name) differs with two threads")
            }
        }
    }

    @Test func gptStepMatchesOneThread() {
        let saved = (Runtime.computeThreads, Runtime.parallelThreshold)
        defer { Runtime.computeThreads = saved.0; Runtime.parallelThreshold = saved.1 }
        func step() -> [Float] {
            let model = GPT(GPT.Config(vocabSize: 64, blockSize: 16, layers: 2, dim: 64, heads: 4, seed: 5))
            let ids = (0..<64).map { Int32($0 % 64) }, targets = (0..<64).map { Int32(($0 * 7) % 64) }
            let loss = model.loss(ids, targets: targets, batch: 4, time: 16)
            loss.backward()
            let opt = AdamW(parameters: model.parameters, learningRate: 1e-2)
            opt.step()
            return [loss.item] + model.parameters.flatMap(\.scalars)
        }
        Runtime.computeThreads = 1
        let serial = step()
        Runtime.computeThreads = 2; Runtime.parallelThreshold = 0
        #expect(serial == step())
    }
}
