import Foundation

/// Step times of the SFT and GRPO trainers on a randomly initialized model of one of
/// `GenerationBenchmark.shapes`: grlhf's side of `benchmarks/alignment.sh`, which runs the same
/// steps in PyTorch + transformers beside it.
///
/// SFT: batches of `batch` rows, a `length`-token prompt and a `length`-token response each.
/// GRPO: `prompts` chat prompts of about `length` tokens, a group of `group` completions each of
/// `newTokens` tokens sampled at temperature 1 (no stop), π_old and π_ref forwards, one update.
public enum AlignmentBenchmark {
    public struct Result: Codable, Sendable {
        public var impl = "grlhf"
        public var model: String
        public var threads: Int
        public var sftBatch: Int
        public var sftLength: Int
        public var sftMsPerStep: Double
        public var sftTokensPerSecond: Double
        public var grpoPromptTokens: [Int]
        public var grpoGroup: Int
        public var grpoNewTokens: Int
        public var grpoMsPerStep: Double
        public var grpoRolloutMs: Double
        public var grpoTokensPerSecond: Double

        enum CodingKeys: String, CodingKey {
            case impl, model, threads
            case sftBatch = "sft_batch", sftLength = "sft_length", sftMsPerStep = "sft_ms_per_step"
            case sftTokensPerSecond = "sft_tokens_per_s", grpoPromptTokens = "grpo_prompt_tokens", grpoGroup = "grpo_group"
            case grpoNewTokens = "grpo_new_tokens", grpoMsPerStep = "grpo_ms_per_step", grpoRolloutMs = "grpo_rollout_ms"
            case grpoTokensPerSecond = "grpo_tokens_per_s"
        }
    }

    public static func run(shape: String, threads: Int = 1, batch: Int = 8, length: Int = 32, prompts: Int = 2, group: Int = 8,
                           newTokens: Int = 32, steps: Int = 3) throws -> Result {
        guard let config = GenerationBenchmark.shapes[shape] else {
            throw GRLHFError.invalidArgument("unknown shape \(shape); known: \(GenerationBenchmark.shapes.keys.sorted())")
        }
        Runtime.setThreads(threads)
        var rng = PCG32(seed: 3)
        func randomIds(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(rng.nextUInt32() % UInt32(config.vocabSize)) } }

        // SFT on random tokens: the work does not depend on what the tokens say.
        var sftConfig = SFTConfig()
        sftConfig.steps = steps + 1; sftConfig.batchSize = batch
        let sftModel = try DecoderLM(config, seed: 1)
        let rows = (0..<batch).map { _ in TokenSequence(prompt: randomIds(length), completion: randomIds(length)) }
        let sft = try SFTTrainer(model: sftModel, sequences: rows, config: sftConfig)
        try sft.runStep()  // warm-up: buffers, RoPE tables, OpenBLAS threads
        let sftSeconds = try (0..<steps).map { _ in try sft.runStep()["step_time"]! }.min()!

        // GRPO from chat prompts, through the same trainer users run.
        let words = Corpus.alice.split(whereSeparator: \.isWhitespace).map(String.init)
        let tokenizer = BPETrainer.train(corpus: [Corpus.alice], vocabSize: config.vocabSize,
                                         specialTokens: ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
        let policy = try DecoderLM(config, seed: 1)
        let encoder = try ChatEncoder(tokenizer: tokenizer, model: policy)
        let examples = try (0..<prompts).map { i -> PromptExample in
            var question = "", n = 0
            while try encoder.prompt(question, image: nil).ids.count < length, n < 400 {
                question += (question.isEmpty ? "" : " ") + words[(i * 97 + n) % words.count]; n += 1
            }
            return PromptExample(question: question)
        }
        var grpoConfig = GRPOConfig()
        grpoConfig.steps = steps + 1; grpoConfig.promptsPerStep = prompts; grpoConfig.groupSize = group
        grpoConfig.sampling = SamplingOptions(temperature: 1, maxNewTokens: newTokens)
        let reward = PointwiseReward { _, completion in Float(completion.filter { $0 == "e" }.count) }
        let grpo = try GRPOTrainer(policy: policy, encoder: encoder, prompts: examples, reward: reward, config: grpoConfig)
        try grpo.runStep()
        let grpoSteps = try (0..<steps).map { _ in try grpo.runStep() }
        let best = grpoSteps.min { $0["step_time"]! < $1["step_time"]! }!
        let promptTokens = try examples.map { try encoder.prompt($0.question, image: nil).ids.count }
        // Completions may end early at a sampled <|im_end|>; count what was generated.
        let grpoTokens = Double(group * promptTokens.reduce(0, +)) + best["completion_length"]! * Double(prompts * group)
        return Result(model: shape, threads: threads, sftBatch: batch, sftLength: 2 * length, sftMsPerStep: sftSeconds * 1000,
                      sftTokensPerSecond: Double(batch * 2 * length) / sftSeconds, grpoPromptTokens: promptTokens,
                      grpoGroup: group, grpoNewTokens: newTokens, grpoMsPerStep: best["step_time"]! * 1000,
                      grpoRolloutMs: best["time/rollout"]! * 1000, grpoTokensPerSecond: grpoTokens / best["step_time"]!)
    }
}
