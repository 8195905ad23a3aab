import Foundation

/// Generative RLHF-V end to end on a small scale, from a folder of JSONL sets (what
/// `grlhf data easy-vqa` writes, or a user's own in the same formats): a tokenizer and a tiny
/// multimodal model trained on the SFT rows, then the reward models the paper compares — a
/// Bradley–Terry RM, the untrained judge (taught only the output format), GRM+SFT and GRM+RL
/// (stage 1) — each evaluated on in-distribution and out-of-distribution preference pairs.
/// Every stage writes its result under `output/<stage>/` and is skipped when rerun, so an
/// interrupted run resumes where it stopped.
public struct PipelineConfig: Codable, Equatable, Sendable {
    public var name = "tiny"
    /// sft.jsonl, prefs_train.jsonl, prefs_test_id.jsonl, prefs_test_ood.jsonl,
    /// prompts_train.jsonl, prompts_test.jsonl, prompts_test_ood.jsonl.
    public var data = "runs/data/easy-vqa"
    public var output = "runs/tiny"
    public var seed: UInt64 = 1
    public var threads = 1

    public var vocabSize = 400
    public var imageSize = 32
    public var patchSize = 8
    public var visionWidth = 64
    public var width = 64
    public var layers = 2

    public var sftSteps = 600
    public var rmSteps = 300
    /// Judge format lesson (the "untrained" GRM), GRM+SFT and stage-1 RL steps.
    public var formatSteps = 150
    public var grmSFTSteps = 300
    public var grmRLSteps = 200
    /// Stage 1's learning rate: higher rates wrecked the judge's output format within 20 steps
    /// (every output unparseable, so every reward 0 and no signal left).
    public var grmRLLearningRate: Float = 2e-4
    public var batchSize = 16
    public var groupSize = 8
    public var promptsPerStep = 4
    /// Preference pairs evaluated per set (ID, OOD).
    public var evalPairs = 200
    /// Policy RL: rollout batches, responses per prompt (n of grouped comparison), learning rate;
    /// DPO steps; test prompts answered per set (ID, OOD).
    public var policySteps = 60
    public var policyGroup = 5
    public var policyLearningRate: Float = 1e-4
    public var dpoSteps = 100
    public var evalPrompts = 200
    /// Responses per prompt of the scaling run.
    public var scalingGroups = [3, 5, 7]

    public init() {}

    /// The default preset: finishes within `make demo`'s budget on two cores.
    public static var tiny: PipelineConfig { PipelineConfig() }

    /// A few dozen items and steps: the same path in well under a minute (for tests).
    public static var quick: PipelineConfig {
        var c = PipelineConfig()
        c.name = "quick"; c.output = "runs/quick"
        c.vocabSize = 300; c.width = 32; c.visionWidth = 32; c.layers = 1
        c.sftSteps = 6; c.rmSteps = 4; c.formatSteps = 3; c.grmSFTSteps = 3; c.grmRLSteps = 2
        c.batchSize = 4; c.groupSize = 2; c.promptsPerStep = 2; c.evalPairs = 8
        c.policySteps = 2; c.policyGroup = 3; c.dpoSteps = 2; c.evalPrompts = 8; c.scalingGroups = [2, 3]
        return c
    }
}

/// The short judge template of the small presets: the paper's structure (instruction, the
/// conversation with the image, Response 1/2, boxed scores) in few tokens, since a model of a
/// few hundred thousand parameters cannot carry the paper's 577-token prompt.
public extension JudgeTemplate {
    static let compact = JudgeTemplate(
        instruction: "Score each response to the question about the image from 1 to 10. End with Scores: \\boxed{s1, s2}.",
        body: "{image}{question}\n# Response 1: {response_1}\n# Response 2: {response_2}")
}

public final class Pipeline {
    public let config: PipelineConfig
    /// One line per finished stage, for the terminal.
    public var log: (String) -> Void = { print($0) }

    public init(config: PipelineConfig) { self.config = config }

    func path(_ parts: String...) -> String { ([config.output] + parts).joined(separator: "/") }
    func data<T: Decodable>(_ file: String, _ type: T.Type) throws -> [T] { try JSONLines.read(type, from: config.data + "/" + file) }

    /// Runs every stage not already finished; returns the summary (also written to summary.json).
    @discardableResult
    public func run() throws -> PipelineSummary {
        Runtime.setThreads(config.threads)
        try FileManager.default.createDirectory(atPath: config.output, withIntermediateDirectories: true)
        try Checkpoint.writeJSON(config, to: path("config.json"))
        let sft = try data("sft.jsonl", SFTExample.self)
        let prefs = try data("prefs_train.jsonl", PreferenceExample.self)
        let idPairs = Array(try data("prefs_test_id.jsonl", PreferenceExample.self).prefix(config.evalPairs))
        let oodPairs = Array(try data("prefs_test_ood.jsonl", PreferenceExample.self).prefix(config.evalPairs))

        let tokenizer = try stageTokenizer(sft: sft, prefs: prefs)
        let base = try stage("base") { dir in
            let model = try MultimodalModel(modelConfig(tokenizer), seed: config.seed)
            let encoder = try ChatEncoder(tokenizer: tokenizer, model: model)
            var c = SFTConfig()
            c.steps = config.sftSteps; c.batchSize = config.batchSize; c.seed = config.seed
            c.optimizer = OptimizerConfig(learningRate: 3e-3, weightDecay: 0.01, warmupRatio: 0.05, schedule: .cosine)
            try train(SFTTrainer(model: model, encoder: encoder, examples: sft, config: c), "base", dir)
            try model.save(directory: dir)
        }
        var results: [String: RewardModelResult] = [:]

        // Bradley–Terry RM on a copy of the base.
        let rmDir = try stage("rm-bt") { dir in
            let rm = RewardModel(base: try MultimodalModel.load(directory: base), seed: config.seed)
            var c = RewardModelConfig()
            c.steps = config.rmSteps; c.batchSize = config.batchSize; c.seed = config.seed
            c.optimizer = OptimizerConfig(learningRate: 1e-3, weightDecay: 0, warmupRatio: 0.05, schedule: .constant)
            try train(RewardModelTrainer(rewardModel: rm, encoder: try ChatEncoder(tokenizer: tokenizer, model: rm.base), pairs: prefs, config: c), "rm-bt", dir)
            try rm.save(directory: dir)
        }
        let rm = try RewardModel.load(directory: rmDir)
        let rmEncoder = try ChatEncoder(tokenizer: tokenizer, model: rm.base)
        results["BT RM"] = RewardModelResult(id: try rm.accuracy(on: idPairs, encoder: rmEncoder),
                                             ood: try rm.accuracy(on: oodPairs, encoder: rmEncoder), parseFailures: 0)

        // The judge taught only the output format: short SFT on labelled judgments, stopped
        // before it learns to judge (the paper's untrained-GRM baseline has no GRM training).
        let format = try stage("grm") { dir in
            try judgeSFT(from: base, tokenizer: tokenizer, pairs: prefs, steps: config.formatSteps, stage: "grm", dir: dir)
        }
        let sftJudge = try stage("grm-sft") { dir in
            try judgeSFT(from: format, tokenizer: tokenizer, pairs: prefs, steps: config.grmSFTSteps, stage: "grm-sft", dir: dir)
        }
        let rlJudge = try stage("grm-rl") { dir in
            let judge = try Judge(model: try MultimodalModel.load(directory: format), tokenizer: tokenizer, template: .compact)
            var c = Judge.stage1Config
            c.steps = config.grmRLSteps; c.groupSize = config.groupSize; c.promptsPerStep = config.promptsPerStep; c.seed = config.seed
            c.sampling.maxNewTokens = 24
            c.optimizer = OptimizerConfig(learningRate: config.grmRLLearningRate, weightDecay: 0, warmupRatio: 0, schedule: .constant)
            try train(judge.trainer(pairs: prefs, swapAugment: true, config: c), "grm-rl", dir)
            try judge.model.save(directory: dir)
        }
        for (label, dir) in [("GRM (untrained)", format), ("GRM+SFT", sftJudge), ("GRM+RL", rlJudge)] {
            let judge = try Judge(model: try MultimodalModel.load(directory: dir), tokenizer: tokenizer, template: .compact)
            judge.options = SamplingOptions(temperature: 0, maxNewTokens: 24)
            let id = try judge.accuracy(on: idPairs), ood = try judge.accuracy(on: oodPairs)
            results[label] = RewardModelResult(id: id.accuracy, ood: ood.accuracy, parseFailures: (id.parseFailures + ood.parseFailures) / 2)
        }
        // Policies: the base, GRPO with each reward (n responses per prompt), DPO.
        let prompts = try data("prompts_train.jsonl", PromptExample.self)
        let idPrompts = Array(try data("prompts_test.jsonl", PromptExample.self).prefix(config.evalPrompts))
        let oodPrompts = Array(try data("prompts_test_ood.jsonl", PromptExample.self).prefix(config.evalPrompts))
        let answers = Set((prompts + idPrompts + oodPrompts).compactMap(\.groundTruth)).sorted()
        let correct = NamesGroundTruth(alternatives: answers)
        func judge(_ dir: String) throws -> Judge {
            let j = try Judge(model: try MultimodalModel.load(directory: dir), tokenizer: tokenizer, template: .compact)
            j.options = SamplingOptions(temperature: 0, maxNewTokens: 24)
            return j
        }
        let rewards: [(String, String, () throws -> RewardFunction)] = [
            ("GRPO + BT RM", "policy-grpo-bt", { RewardModelReward(rm, encoder: rmEncoder) }),
            ("GRPO + GRM", "policy-grpo-grm", { GroupedComparisonReward(judge: try judge(format)) }),
            ("GRPO + GRM+RL (grouped comparison)", "policy-grpo-grm-rl", { GroupedComparisonReward(judge: try judge(rlJudge)) }),
        ]
        var policies: [String: PolicyResult] = ["base (SFT)": try policyAccuracy(base, tokenizer, idPrompts, oodPrompts, correct)]
        for (label, name, reward) in rewards {
            let dir = try grpoPolicy(name, base: base, tokenizer: tokenizer, prompts: prompts, group: config.policyGroup, reward: reward)
            policies[label] = try policyAccuracy(dir, tokenizer, idPrompts, oodPrompts, correct)
        }
        // The paper's scaling experiment: the policy's gain over the base for n = 3, 5, 7
        // responses per prompt, with the GRM+RL judge (grouped comparison) and with the BT RM.
        var scaling: [ScalingPoint] = []
        for n in config.scalingGroups {
            for (label, name, reward) in [rewards[0], rewards[2]] {
                let dir = n == config.policyGroup ? path(name)
                    : try grpoPolicy("\(name)-n\(n)", base: base, tokenizer: tokenizer, prompts: prompts, group: n, reward: reward)
                let r = try policyAccuracy(dir, tokenizer, idPrompts, oodPrompts, correct)
                let b = policies["base (SFT)"]!
                scaling.append(ScalingPoint(reward: label, n: n, idGain: r.id - b.id, oodGain: r.ood - b.ood))
            }
        }
        let dpo = try stage("policy-dpo") { dir in
            let policy = try MultimodalModel.load(directory: base)
            var c = DPOConfig()
            c.steps = config.dpoSteps; c.batchSize = config.batchSize; c.seed = config.seed
            c.optimizer = OptimizerConfig(learningRate: config.policyLearningRate, weightDecay: 0, warmupRatio: 0, schedule: .constant)
            try train(DPOTrainer(policy: policy, encoder: try ChatEncoder(tokenizer: tokenizer, model: policy), pairs: prefs, config: c), "policy-dpo", dir)
            try policy.save(directory: dir)
        }
        policies["DPO"] = try policyAccuracy(dpo, tokenizer, idPrompts, oodPrompts, correct)

        let summary = PipelineSummary(preset: config.name, rewardModels: results, policies: policies, scaling: scaling, idPairs: idPairs.count,
                                      oodPairs: oodPairs.count, idPrompts: idPrompts.count, oodPrompts: oodPrompts.count)
        try Checkpoint.writeJSON(summary, to: path("summary.json"))
        log(summary.table)
        return summary
    }

    /// GRPO from the base policy with `group` responses per prompt; returns the stage's folder.
    func grpoPolicy(_ name: String, base: String, tokenizer: Tokenizer, prompts: [PromptExample], group: Int,
                    reward: () throws -> RewardFunction) throws -> String {
        try stage(name) { dir in
            let policy = try MultimodalModel.load(directory: base)
            var c = GRPOConfig()
            c.steps = config.policySteps; c.groupSize = group; c.promptsPerStep = config.promptsPerStep; c.seed = config.seed
            c.sampling = SamplingOptions(temperature: 1, maxNewTokens: 16)
            c.optimizer = OptimizerConfig(learningRate: config.policyLearningRate, weightDecay: 0, warmupRatio: 0, schedule: .constant)
            try train(GRPOTrainer(policy: policy, encoder: try ChatEncoder(tokenizer: tokenizer, model: policy), prompts: prompts,
                                  reward: try reward(), config: c), name, dir)
            try policy.save(directory: dir)
        }
    }

    /// Greedy answer accuracy (the right answer named, no other) of the model in `dir` on the ID
    /// and OOD test prompts.
    func policyAccuracy(_ dir: String, _ tokenizer: Tokenizer, _ id: [PromptExample], _ ood: [PromptExample],
                        _ rule: NamesGroundTruth) throws -> PolicyResult {
        let model = try MultimodalModel.load(directory: dir)
        let encoder = try ChatEncoder(tokenizer: tokenizer, model: model)
        var o = SamplingOptions(temperature: 0, maxNewTokens: 16)
        o.stopTokens.insert(encoder.endOfTurn)
        func accuracy(_ rows: [PromptExample]) throws -> Float {
            guard !rows.isEmpty else { return .nan }
            var hits: Float = 0
            for start in stride(from: 0, to: rows.count, by: 16) {
                let chunk = Array(rows[start..<Swift.min(start + 16, rows.count)])
                let encoded = try chunk.map { try encoder.prompt($0.question, image: $0.image, system: $0.system) }
                let out = model.sample(prompts: encoded.map(\.ids), images: encoded.map(\.images), count: 1, options: o)
                for (row, group) in zip(chunk, out) { hits += rule.score(encoder.text(group[0].tokens), truth: row.groundTruth ?? "") }
            }
            return hits / Float(rows.count)
        }
        return PolicyResult(id: try accuracy(id), ood: try accuracy(ood))
    }

    func modelConfig(_ tokenizer: Tokenizer) throws -> MultimodalModel.Config {
        let c = config
        return MultimodalModel.Config(
            text: DecoderLM.Config(vocabSize: tokenizer.vocabSize, hiddenSize: c.width, intermediateSize: 2 * c.width,
                                   numHiddenLayers: c.layers, numAttentionHeads: 4, numKeyValueHeads: 2, tieWordEmbeddings: true),
            vision: VisionTransformer.Config(imageSize: c.imageSize, patchSize: c.patchSize, hiddenSize: c.visionWidth, numHiddenLayers: 1,
                                             numAttentionHeads: 4, intermediateSize: 2 * c.visionWidth),
            imageTokenIndex: try tokenizer.id(for: "<image>").orThrow("the tokenizer has no <image> token"),
            preprocessor: ImagePreprocessor(size: c.imageSize))
    }

    /// A BPE tokenizer trained on the texts the models will read and write.
    func stageTokenizer(sft: [SFTExample], prefs: [PreferenceExample]) throws -> Tokenizer {
        let file = path("tokenizer.json")
        if FileManager.default.fileExists(atPath: file) { return try Tokenizer.load(contentsOf: file) }
        var corpus = sft.flatMap { [$0.question, $0.response] } + prefs.prefix(2000).flatMap { [$0.response1, $0.response2] }
        let t = JudgeTemplate.compact
        corpus += [t.instruction, t.body] + (1...10).flatMap { a in (1...10).map { "Scores: \\boxed{\(a), \($0)}" } }
        let tokenizer = BPETrainer.train(corpus: corpus, vocabSize: config.vocabSize,
                                         specialTokens: ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>"])
        try tokenizer.save(to: file)
        log("tokenizer: \(tokenizer.vocabSize) tokens")
        return tokenizer
    }

    /// The stage's directory, made by `build` unless a previous run finished it.
    func stage(_ name: String, _ build: (String) throws -> Void) throws -> String {
        let dir = path(name), done = dir + "/stage.done"
        if FileManager.default.fileExists(atPath: done) { log("\(name): done earlier"); return dir }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try build(dir)
        try AtomicFile.write(to: done) { write in try Array("done\n".utf8).withUnsafeBytes { try write($0) } }
        return dir
    }

    /// Trains with progress, metrics and checkpoints in `dir`, resuming from its checkpoints.
    func train(_ trainer: Trainer, _ label: String, _ dir: String) throws {
        let checkpoints = dir + "/checkpoints"
        if FileManager.default.fileExists(atPath: checkpoints + "/latest") { try trainer.resume(from: checkpoints) }
        trainer.metricsPath = dir + "/metrics.jsonl"
        try trainer.train(progress: true, label: label, checkpointEvery: Swift.max(1, trainer.totalSteps / 4), checkpointDirectory: checkpoints)
    }

    func judgeSFT(from source: String, tokenizer: Tokenizer, pairs: [PreferenceExample], steps: Int, stage: String, dir: String) throws {
        let judge = try Judge(model: try MultimodalModel.load(directory: source), tokenizer: tokenizer, template: .compact)
        var c = SFTConfig()
        c.steps = steps; c.batchSize = config.batchSize; c.seed = config.seed
        c.optimizer = OptimizerConfig(learningRate: 3e-3, weightDecay: 0, warmupRatio: 0, schedule: .constant)
        let rows = judge.sftExamples(pairs, format: "Scores: \\boxed{{scores}}")
        try train(SFTTrainer(model: judge.model, encoder: judge.encoder, examples: rows, config: c), stage, dir)
        try judge.model.save(directory: dir)
    }
}

/// Pairwise accuracy of a reward model on the in-distribution and out-of-distribution pairs.
public struct RewardModelResult: Codable, Equatable, Sendable {
    public var id: Float
    public var ood: Float
    public var parseFailures: Float
}

/// The policy's accuracy gain over the base with `n` responses per prompt and one reward.
public struct ScalingPoint: Codable, Equatable, Sendable {
    public var reward: String
    public var n: Int
    public var idGain: Float
    public var oodGain: Float
}

/// A policy's greedy answer accuracy on the ID and OOD test prompts.
public struct PolicyResult: Codable, Equatable, Sendable {
    public var id: Float
    public var ood: Float
}

public struct PipelineSummary: Codable, Sendable {
    public var preset: String
    public var rewardModels: [String: RewardModelResult]
    public var policies: [String: PolicyResult]
    public var scaling: [ScalingPoint]
    public var idPairs: Int
    public var oodPairs: Int
    public var idPrompts: Int
    public var oodPrompts: Int

    /// The reward-model table as the terminal shows it.
    public var table: String {
        var lines = ["reward model        ID acc   OOD acc   parse failures   (\(idPairs) ID, \(oodPairs) OOD pairs)"]
        for name in ["BT RM", "GRM (untrained)", "GRM+SFT", "GRM+RL"] {
            guard let r = rewardModels[name] else { continue }
            lines.append(name.padding(toLength: 18, withPad: " ", startingAt: 0)
                         + String(format: " %6.3f   %7.3f   %14.3f", r.id, r.ood, r.parseFailures))
        }
        lines.append("")
        lines.append("policy                               ID acc   OOD acc   (\(idPrompts) ID, \(oodPrompts) OOD prompts, greedy)")
        for name in ["base (SFT)", "GRPO + BT RM", "GRPO + GRM", "GRPO + GRM+RL (grouped comparison)", "DPO"] {
            guard let r = policies[name] else { continue }
            lines.append(name.padding(toLength: 36, withPad: " ", startingAt: 0) + String(format: " %6.3f   %7.3f", r.id, r.ood))
        }
        lines.append("")
        lines.append("scaling: accuracy gain over the base (ID / OOD) by responses per prompt n")
        for p in scaling {
            lines.append(p.reward.padding(toLength: 36, withPad: " ", startingAt: 0) + String(format: " n=%d   %+.3f / %+.3f", p.n, p.idGain, p.oodGain))
        }
        return lines.joined(separator: "\n")
    }
}

extension Optional {
    func orThrow(_ message: String) throws -> Wrapped {
        guard let value = self else { throw GRLHFError.invalidArgument(message) }
        return value
    }
}
