import Foundation
import Testing
@testable import GRLHF

/// grlhf's GPT against PyTorch on a committed golden file (Fixtures/make_gpt_fixture.py): the
/// same weights and batch must give the same logits, loss, gradients and AdamW update.
@Suite struct PyTorchParity {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/gpt/tiny_gpt.safetensors").path

    func maxAbs(_ t: Tensor) -> Float { t.scalars.map(abs).max() ?? 0 }
    func maxDiff(_ a: Tensor, _ b: Tensor) -> Float { zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0 }

    @Test func gptMatchesPyTorch() throws {
        let golden = Dictionary(uniqueKeysWithValues: try Safetensors.read(contentsOf: Self.fixture).map { ($0.name, $0.tensor) })
        let model = GPT(GPT.Config(vocabSize: 32, blockSize: 8, layers: 2, dim: 16, heads: 2))
        try model.load(golden)
        let ids = try #require(golden["input_ids"]).scalars.map { Int32($0) }
        let targets = try #require(golden["targets"]).scalars.map { Int32($0) }

        let logits = model(ids, batch: 2, time: 8)
        let expected = try #require(golden["expected.logits"])
        #expect(maxDiff(logits, expected) <= 1e-4 * maxAbs(expected), "logits differ by \(maxDiff(logits, expected))")

        let loss = logits.crossEntropy(targets: targets)
        #expect(abs(loss.item - golden["expected.loss"]!.item) < 1e-4)
        loss.backward()
        for (name, p) in model.namedParameters() {
            let g = try #require(golden["grad." + name]), ours = try #require(p.grad)
            #expect(maxDiff(ours, g) <= 1e-4 * maxAbs(g) + 1e-6, "grad \(name) differs by \(maxDiff(ours, g)) (max \(maxAbs(g)))")
        }

        // Adam's first step is ±lr·sign(g) whatever |g| is, so where the true gradient is zero
        // (the key bias: softmax ignores a per-row shift) float rounding noise picks the sign.
        // Those elements are compared by their weight decay alone being within one lr step.
        let opt = AdamW(parameters: model.parameters, learningRate: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1)
        opt.step()
        for (name, p) in model.namedParameters() {
            let after = try #require(golden["adamw." + name]), g = try #require(golden["grad." + name])
            var worst: Float = 0
            for i in 0..<p.count {
                let d = abs(p.data[i] - after.data[i])
                if abs(g.data[i]) > 1e-6 { worst = max(worst, d) } else { #expect(d <= 2.01e-2) }
            }
            #expect(worst < 1e-4, "AdamW update of \(name) differs by \(worst)")
        }
    }
}
