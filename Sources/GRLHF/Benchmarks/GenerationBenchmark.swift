import Foundation

/// Prefill and decode speed of a randomly initialized Llama-shaped model, single stream and as a
/// group of G continuations of one prompt: grlhf's side of `benchmarks/generation.sh`, which
/// runs transformers on the same config beside it.
public enum GenerationBenchmark {
    public struct Result: Codable, Sendable {
        public var impl = "grlhf"
        public var model: String
        public var threads: Int
        public var prefillTokensPerSecond: Double
        public var decodeTokensPerSecond: Double
        public var groupTokensPerSecond: Double
        public var group: Int
        public var groupSpeedup: Double { groupTokensPerSecond / decodeTokensPerSecond }

        enum CodingKeys: String, CodingKey {
            case impl, model, threads, group
            case prefillTokensPerSecond = "prefill_tokens_per_s", decodeTokensPerSecond = "decode_tokens_per_s"
            case groupTokensPerSecond = "group_tokens_per_s"
        }
    }

    /// The two shapes of issue 3: a small model and one shaped like SmolLM2-135M.
    public static let shapes: [String: DecoderLM.Config] = [
        "small": DecoderLM.Config(vocabSize: 2048, hiddenSize: 256, intermediateSize: 1024, numHiddenLayers: 4,
                                  numAttentionHeads: 4, maxPositionEmbeddings: 1024),
        "smollm2-135m": DecoderLM.Config(vocabSize: 49152, hiddenSize: 576, intermediateSize: 1536, numHiddenLayers: 30,
                                         numAttentionHeads: 9, numKeyValueHeads: 3, maxPositionEmbeddings: 2048,
                                         tieWordEmbeddings: true),
    ]

    static func seconds(_ body: () -> Void) -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }

    /// Best of `repeats`: prefill of `promptLength` tokens; greedy decode of `newTokens`, alone and
    /// as a group of `group` (decode time excludes the prefill).
    /// `shape`: a name in `shapes` (random weights), or a Llama `.gguf` file (its weights;
    /// `quantized`: decode through its Q4/Q8 blocks, see `DecoderLM.load(gguf:quantized:)`).
    /// `group` 0 skips the group run.
    public static func run(shape: String, quantized: Bool = false, threads: Int = 1, promptLength: Int = 64, newTokens: Int = 32,
                           group: Int = 8, repeats: Int = 3) throws -> Result {
        let model: DecoderLM
        if shape.hasSuffix(".gguf") {
            model = try DecoderLM.load(gguf: shape, quantized: quantized)
        } else {
            guard let config = shapes[shape] else { throw GRLHFError.invalidArgument("unknown shape \(shape); known: \(shapes.keys.sorted())") }
            model = try DecoderLM(config, seed: 1)
        }
        let config = model.config
        Runtime.setThreads(threads)
        var rng = PCG32(seed: 2)
        let prompt = (0..<promptLength).map { _ in Int32(rng.nextUInt32() % UInt32(config.vocabSize)) }
        let options = SamplingOptions(temperature: 0, maxNewTokens: newTokens)
        var prefill = Double.infinity, single = Double.infinity, grouped = Double.infinity
        for _ in 0..<repeats {
            prefill = min(prefill, seconds { _ = withNoGrad { model(prompt, batch: 1, time: promptLength) } })
            single = min(single, seconds { _ = model.generate(prompt: prompt, options: options) })
            if group > 0 { grouped = min(grouped, seconds { _ = model.sampleGroup(prompt: prompt, count: group, options: options) }) }
        }
        let name = shape.hasSuffix(".gguf") ? (shape.split(separator: "/").last.map(String.init) ?? shape) + (quantized ? " (blocks)" : " (float32)") : shape
        return Result(model: name, threads: threads, prefillTokensPerSecond: Double(promptLength) / prefill,
                      decodeTokensPerSecond: Double(newTokens) / max(single - prefill, 1e-9),
                      groupTokensPerSecond: Double(group * newTokens) / max(grouped - prefill, 1e-9), group: group)
    }
}
