import Foundation

/// Times one full GPT training step (forward, cross-entropy, backward, AdamW) — the engine's
/// side of `benchmarks/train_step.sh`, which runs PyTorch with the same config beside it.
public enum TrainStepBenchmark {
    public struct Result: Codable, Sendable {
        public var impl = "grlhf"
        public var threads: Int
        public var msPerStep: Double
        /// The fastest step: the least noisy estimate on a shared machine.
        public var msPerStepMin: Double
        public var tokensPerSecond: Double
        public var lossFirst: Float
        public var lossLast: Float
        public var params: Int
        public var matmulGflopPerStep: Double
        public var achievedGflops: Double
        public var sgemmPeakGflops: Double
        public var blas: String

        enum CodingKeys: String, CodingKey {
            case impl, threads, params, blas
            case msPerStep = "ms_per_step", msPerStepMin = "ms_per_step_min", tokensPerSecond = "tokens_per_s", lossFirst = "loss_first"
            case lossLast = "loss_last", matmulGflopPerStep = "matmul_gflop_per_step"
            case achievedGflops = "achieved_gflops", sgemmPeakGflops = "sgemm_peak_gflops"
        }
    }

    /// Matmul FLOPs of one training step (3 × forward; attention counts the full T×T scores),
    /// the same accounting as `benchmarks/gpt_torch.py`.
    public static func matmulFlops(_ c: GPT.Config, batch: Int) -> Double {
        let (b, t, d) = (Double(batch), Double(c.blockSize), Double(c.dim))
        let perLayer = 2 * b * t * 12 * d * d + 2 * 2 * b * t * t * d
        return 3 * (Double(c.layers) * perLayer + 2 * b * t * d * Double(c.vocabSize))
    }

    /// Best sgemm rate over this model's matmul shapes (forward and both backward forms).
    public static func sgemmPeak(_ c: GPT.Config, batch: Int) -> Double {
        let rows = batch * c.blockSize
        let shapes = [(rows, 3 * c.dim, c.dim), (rows, 4 * c.dim, c.dim), (rows, c.dim, 4 * c.dim),
                      (rows, c.vocabSize, c.dim), (c.dim, 4 * c.dim, rows)]
        var best = 0.0
        for (m, n, k) in shapes {
            let a = Tensor(repeating: 0.5, shape: [m, k]), b = Tensor(repeating: 0.25, shape: [k, n])
            let out = Tensor(uninitialized: [m, n])
            var times: [Double] = []
            for _ in 0..<8 {
                let t0 = DispatchTime.now().uptimeNanoseconds
                sgemm(transA: false, transB: false, m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: n, c: out.data, ldc: n)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            best = max(best, 2 * Double(m * n * k) / times.sorted()[times.count / 2] / 1e9)
        }
        return best
    }

    public static func run(config: GPT.Config = GPT.Config(), batch: Int = 8, threads: Int = 1,
                           warmup: Int = 3, steps: Int = 10) -> Result {
        Runtime.setThreads(threads)
        let model = GPT(config)
        let opt = AdamW(parameters: model.parameters, learningRate: 3e-4, beta1: 0.9, beta2: 0.95, weightDecay: 0.1)
        var rng = PCG32(seed: 1337)
        let n = batch * config.blockSize
        let ids = (0..<n).map { _ in Int32(rng.nextUInt32() % UInt32(config.vocabSize)) }
        let targets = (0..<n).map { _ in Int32(rng.nextUInt32() % UInt32(config.vocabSize)) }
        var losses: [Float] = [], times: [Double] = []
        for step in 0..<(warmup + steps) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let loss = model.loss(ids, targets: targets, batch: batch, time: config.blockSize)
            loss.backward()
            opt.step()
            opt.zeroGrad()
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            losses.append(loss.item)
            if step >= warmup { times.append(dt) }
        }
        let median = times.sorted()[times.count / 2]
        let flops = matmulFlops(config, batch: batch)
        return Result(threads: threads, msPerStep: median * 1000, msPerStepMin: times.min()! * 1000, tokensPerSecond: Double(n) / median,
                      lossFirst: losses.first ?? .nan, lossLast: losses.last ?? .nan, params: model.parameterCount,
                      matmulGflopPerStep: flops / 1e9, achievedGflops: flops / median / 1e9,
                      sgemmPeakGflops: sgemmPeak(config, batch: batch), blas: Runtime.blasDescription)
    }
}
