import Foundation

/// The first main job: a byte-level GPT trained on a built-in public-domain text for a fixed
/// time, reporting the loss as it falls and printing a sample at the end.
public enum CorpusDemo {
    public struct Options {
        public var seconds: Double = 60
        public var seed: UInt64 = 1337
        public var batch = 16
        public var config = GPT.Config(vocabSize: 256, blockSize: 64, layers: 4, dim: 128, heads: 4)
        public var learningRate: Float = 3e-3
        /// Directory for metrics.jsonl, loss.png and sample.txt (nothing written when nil).
        public var outputDirectory: String?
        public var sampleLength = 240
        public init() {}
    }

    public struct Summary {
        public var steps: Int
        public var firstLoss: Float
        public var lastLoss: Float
        public var sample: String
    }

    @discardableResult
    public static func run(_ o: Options, corpus: String = Corpus.alice, print: (String) -> Void = { Swift.print($0) }) throws -> Summary {
        let bytes = Array(corpus.utf8).map(Int32.init)
        let t = o.config.blockSize
        guard bytes.count > t + 1 else { throw GRLHFError.invalidArgument("corpus shorter than one block") }
        var config = o.config
        config.seed = o.seed
        let model = GPT(config)
        let opt = AdamW(parameters: model.parameters, learningRate: o.learningRate, beta1: 0.9, beta2: 0.95, weightDecay: 0.1)
        if let dir = o.outputDirectory { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let metrics = try o.outputDirectory.map { try MetricsWriter(path: $0 + "/metrics.jsonl") }
        var curve: [(Double, Double)] = []
        var rng = PCG32(seed: o.seed)
        print("grlhf demo: byte-level GPT, \(model.parameterCount) parameters, \(bytes.count)-byte corpus, \(Int(o.seconds)) s of training")

        let bar = ProgressBar(total: o.seconds, label: "train")
        let start = Date()
        var step = 0, first: Float = .nan, smooth: Float = .nan
        while Date().timeIntervalSince(start) < o.seconds {
            var ids: [Int32] = [], targets: [Int32] = []
            for _ in 0..<o.batch {
                let s = Int(rng.nextUInt32() % UInt32(bytes.count - t - 1))
                ids += bytes[s..<(s + t)]; targets += bytes[(s + 1)..<(s + t + 1)]
            }
            // Cosine decay over the time budget, after a short warm-up.
            let progress = Date().timeIntervalSince(start) / o.seconds
            opt.learningRate = LRSchedule(.cosine, peak: o.learningRate, warmupSteps: 20, totalSteps: 1000, minRatio: 0.1)
                .rate(at: step < 20 ? step : 20 + Int(progress * 980))
            let loss = model.loss(ids, targets: targets, batch: o.batch, time: t)
            loss.backward()
            let norm = clipGradientNorm(opt.parameters, maxNorm: 1)
            if loss.item.isFinite && norm.isFinite { opt.step() }
            opt.zeroGrad()
            if step == 0 { first = loss.item; smooth = loss.item }
            smooth = 0.9 * smooth + 0.1 * loss.item
            curve.append((Double(step), Double(loss.item)))
            metrics?.write(["step": Double(step), "loss": Double(loss.item), "lr": Double(opt.learningRate),
                            "grad_norm": Double(norm), "seconds": Date().timeIntervalSince(start)])
            step += 1
            bar.update(Date().timeIntervalSince(start), status: String(format: "step %d  loss %.3f", step, smooth))
        }
        bar.finish(status: String(format: "step %d  loss %.3f", step, smooth))
        let sample = generate(model, prompt: "Alice ", length: o.sampleLength, temperature: 0.6, rng: &rng)
        print(String(format: "loss %.3f → %.3f over %d steps (uniform guess: %.3f)", first, smooth, step, Foundation.log(256.0)))
        print("sample:\n" + sample)
        if let dir = o.outputDirectory {
            var plot = LinePlot(title: "demo training loss", xLabel: "step")
            plot.add("loss", curve)
            plot.add("uniform guess", [(0, Foundation.log(256.0)), (Double(max(step - 1, 1)), Foundation.log(256.0))])
            try plot.write(to: dir + "/loss.png")
            try Data(sample.utf8).write(to: URL(fileURLWithPath: dir + "/sample.txt"))
            print("wrote \(dir)/metrics.jsonl, \(dir)/loss.png, \(dir)/sample.txt")
        }
        return Summary(steps: step, firstLoss: first, lastLoss: smooth, sample: sample)
    }

    /// Plain sampling by re-running the whole window each token: fine for a demo, quadratic in
    /// length (a KV-cached generation engine is the next milestone).
    static func generate(_ model: GPT, prompt: String, length: Int, temperature: Float, rng: inout PCG32) -> String {
        var ids = Array(prompt.utf8).map(Int32.init)
        let t = model.config.blockSize
        withNoGrad {
            for _ in 0..<length {
                let window = Array(ids.suffix(t))
                let logits = model(window, batch: 1, time: window.count)
                let v = model.config.vocabSize
                let last = Tensor(shape: [v], storage: logits.storage, offset: logits.offset + (window.count - 1) * v)
                let probs = (last / temperature).softmax()
                var u = rng.nextFloat(), pick = v - 1
                for i in 0..<v { u -= probs.data[i]; if u <= 0 { pick = i; break } }
                ids.append(Int32(pick))
            }
        }
        return String(decoding: ids.map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self)
    }
}
