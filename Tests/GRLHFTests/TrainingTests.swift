import Foundation
import Testing
@testable import GRLHF

@Suite struct Autograd {
    @Test func noGradRecordsNothing() {
        let w = Tensor([1, 2], shape: [2]); w.requiresGrad = true
        Tape.current.reset()
        let y = withNoGrad { (w * w).sum() }
        #expect(Tape.current.count == 0 && isGradEnabled)
        #expect(y.item == 5)
        let z = (w * w).sum()
        #expect(Tape.current.count == 2)
        z.backward()
        #expect(Tape.current.count == 0 && w.grad!.scalars == [2, 4])
    }

    @Test func gradientsAccumulateAcrossBackwardCallsAndUses() {
        let w = Tensor([3], shape: [1]); w.requiresGrad = true
        (w * w + w).sum().backward()           // d/dw (w² + w) = 2w + 1 = 7
        #expect(w.grad!.scalars == [7])
        (w * 2).sum().backward()                // accumulates 2
        #expect(w.grad!.scalars == [9])
        w.zeroGrad()
        #expect(w.grad == nil)
    }
}

@Suite struct AnomalyDetection {
    @Test func namesTheFirstNonFiniteOp() {
        let x = Tensor([1, -1, 2], shape: [3]); x.requiresGrad = true
        let (y, forward) = withAnomalyDetection { (x * 2).log().sum() }
        #expect(forward == "log forward" && y.item.isNaN)
        Tape.current.reset()
        let z = Tensor([0, 1], shape: [2]); z.requiresGrad = true
        let (_, backward) = withAnomalyDetection { (Tensor([1, 1], shape: [2]) / z).sum().backward() }
        #expect(backward == "div forward")  // 1/0 = inf already in forward
        let w = Tensor([0.5, 2], shape: [2]); w.requiresGrad = true
        let (_, none) = withAnomalyDetection { (w * w).log().sum().backward() }
        #expect(none == nil)
        // Finite forward (log 1e-39 ≈ −89.8), infinite gradient (1 / 1e-39 overflows float).
        let tiny = Tensor([1e-39, 1], shape: [2]); tiny.requiresGrad = true
        let (_, backward2) = withAnomalyDetection { tiny.log().sum().backward() }
        #expect(backward2 == "log backward")
        #expect(Tensor([1, .nan], shape: [2]).allFinite == false && Tensor([1, 2], shape: [2]).allFinite)
    }
}

@Suite struct Optimization {
    @Test func adamWFollowsTheDefinition() {
        let p = Tensor([1, -2], shape: [2]); p.requiresGrad = true
        let opt = AdamW(parameters: [p], learningRate: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.5)
        var theta: [Double] = [1, -2], m: [Double] = [0, 0], v: [Double] = [0, 0]
        for step in 1...3 {
            let g: [Double] = [0.5 * Double(step), -1.5]
            p.grad = Tensor(g.map(Float.init), shape: [2])
            opt.step()
            for i in 0..<2 {
                m[i] = 0.9 * m[i] + 0.1 * g[i]; v[i] = 0.99 * v[i] + 0.01 * g[i] * g[i]
                let mh = m[i] / (1 - pow(0.9, Double(step))), vh = v[i] / (1 - pow(0.99, Double(step)))
                theta[i] = theta[i] * (1 - 0.1 * 0.5) - 0.1 * mh / (vh.squareRoot() + 1e-8)
            }
            #expect(zip(p.scalars, theta).allSatisfy { abs(Double($0) - $1) < 1e-6 })
        }
    }

    @Test func sgdWithMomentum() {
        let p = Tensor([1], shape: [1]); p.requiresGrad = true
        let opt = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9)
        p.grad = Tensor([1], shape: [1]); opt.step()   // v = 1, p = 0.9
        p.grad = Tensor([1], shape: [1]); opt.step()   // v = 1.9, p = 0.71
        #expect(abs(p.item - 0.71) < 1e-6)
    }

    @Test func gradientClipping() {
        let a = Tensor([0, 0], shape: [2]), b = Tensor([0], shape: [1])
        a.grad = Tensor([3, 0], shape: [2]); b.grad = Tensor([4], shape: [1])
        #expect(abs(clipGradientNorm([a, b], maxNorm: 1) - 5) < 1e-6)
        #expect(abs(gradientNorm([a, b]) - 1) < 1e-5)
        #expect(abs(a.grad!.item(at: 0) - 0.6) < 1e-5)
    }

    @Test func learningRateSchedules() {
        let cos = LRSchedule(.cosine, peak: 1, warmupSteps: 4, totalSteps: 14, minRatio: 0.1)
        #expect(cos.rate(at: 0) == 0.2 && cos.rate(at: 3) == 0.8 && cos.rate(at: 4) == 1)
        #expect(abs(cos.rate(at: 9) - 0.55) < 1e-6 && abs(cos.rate(at: 14) - 0.1) < 1e-6 && abs(cos.rate(at: 99) - 0.1) < 1e-6)
        let lin = LRSchedule(.linear, peak: 2, totalSteps: 10)
        #expect(lin.rate(at: 0) == 2 && lin.rate(at: 5) == 1 && lin.rate(at: 10) == 0)
        #expect(LRSchedule(.constant, peak: 3, warmupSteps: 1).rate(at: 50) == 3)
    }
}

@Suite struct Models {
    static let tiny = GPT.Config(vocabSize: 32, blockSize: 16, layers: 2, dim: 32, heads: 2, seed: 3)

    @Test func parameterNamesFollowGPT2() {
        let names = GPT(Self.tiny).namedParameters().map(\.name)
        #expect(names.contains("transformer.wte.weight") && names.contains("transformer.h.1.attn.c_attn.bias"))
        #expect(names.contains("transformer.h.0.mlp.c_fc.weight") && names.contains("lm_head.weight"))
        #expect(Set(names).count == names.count)
    }

    /// Trains on one fixed batch; returns the losses.
    func train(steps: Int) -> [Float] {
        let model = GPT(Self.tiny)
        let opt = AdamW(parameters: model.parameters, learningRate: 1e-2, weightDecay: 0)
        var rng = PCG32(seed: 1)
        let ids = (0..<(4 * 16)).map { _ in Int32(rng.nextUInt32() % 32) }
        let targets = (0..<(4 * 16)).map { _ in Int32(rng.nextUInt32() % 32) }
        var losses: [Float] = []
        for _ in 0..<steps {
            let loss = model.loss(ids, targets: targets, batch: 4, time: 16)
            loss.backward()
            opt.step(); opt.zeroGrad()
            losses.append(loss.item)
        }
        return losses
    }

    @Test func overfitsOneBatch() {
        let losses = train(steps: 150)
        #expect(losses.last! < 0.05 * losses.first!, "loss \(losses.first!) → \(losses.last!)")
    }

    @Test func trainingIsDeterministic() {
        #expect(train(steps: 5) == train(steps: 5))
    }

    @Test func stateDictRoundTrip() throws {
        let a = GPT(Self.tiny), b = GPT(GPT.Config(vocabSize: 32, blockSize: 16, layers: 2, dim: 32, heads: 2, seed: 99))
        let unused = try b.load(a.stateDict())
        #expect(unused.isEmpty)
        let ids: [Int32] = Array(0..<16)
        #expect(withNoGrad { a(ids, batch: 1, time: 16).scalars == b(ids, batch: 1, time: 16).scalars })
        #expect(throws: GRLHFError.self) { try b.load(["transformer.wte.weight": Tensor(zeros: [2])]) }
    }
}

extension Tensor {
    func item(at i: Int) -> Float { data[i] }
}
