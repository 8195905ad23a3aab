import Foundation

/// Generative RLHF-V end to end on a small scale, from a folder of JSONL sets (what
/// `grlhf data easy-vqa` writes, or a user's own in the same formats): a tokenizer and a
/// multimodal model, tiny and trained from scratch or built from pretrained parts (the smol
/// preset: EfficientNet-Lite0 + SmolLM2-135M-Instruct with LoRA), given an image-grounding
/// warm-up and SFT; the reward models the paper compares — a Bradley–Terry RM, the untrained
/// judge (taught only the output format), GRM+SFT and GRM+RL (stage 1) — then policies: GRPO
/// with each reward (stage 2 with grouped comparison), DPO, and the scaling run over n. Every
/// stage writes its result under `output/<stage>/` and is skipped when rerun, so an interrupted
/// run resumes where it stopped; report.html shows the results.
public struct PipelineConfig: Codable, Equatable, Sendable {
    public var name = "tiny"
    /// sft.jsonl, prefs_train.jsonl, prefs_test_id.jsonl, prefs_test_ood.jsonl,
    /// prompts_train.jsonl, prompts_test.jsonl, prompts_test_ood.jsonl; optionally pretrain.jsonl.
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

    public var visionLayers = 2

    /// A Llama GGUF (SmolLM2-135M-Instruct) as the language model: frozen, trained through LoRA
    /// adapters, its tokenizer used instead of a trained BPE. "" for a tiny model trained here
    /// (`vocabSize`, `width`, `layers`).
    public var languageModel = ""
    /// The GGUF vocabulary's added token that becomes the image placeholder `<image>` (unused by
    /// the pretrained model, so no embedding needs adding).
    public var imageTokenFrom = "<empty_output>"
    /// LoRA on `languageModel`: rank, alpha, and the adapted layers.
    public var loraRank = 16
    public var loraAlpha: Float = 32
    public var loraTargets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    /// EfficientNet-Lite0's .pth (from `make models`) as the frozen vision tower, its 7×7 map as
    /// 49 image tokens at 224px. "" for a ViT trained here (`imageSize`, `patchSize`, …).
    public var visionModel = ""
    /// Image-grounding warm-up on pretrain.jsonl (skipped when the data has none), then SFT.
    /// Rates above ~1e-3 made the tiny ViT collapse: the model stopped looking at the image.
    public var pretrainSteps = 1500
    public var sftSteps = 3000
    public var sftLearningRate: Float = 3e-4
    public var rmSteps = 300
    /// Judge format lesson (the "untrained" GRM), GRM+SFT and stage-1 RL steps.
    public var formatSteps = 150
    public var grmSFTSteps = 900
    public var grmRLSteps = 200
    public var judgeSFTLearningRate: Float = 1e-3
    /// Stage 1's learning rate: higher rates wrecked the judge's output format within 20 steps
    /// (every output unparseable, so every reward 0 and no signal left).
    public var grmRLLearningRate: Float = 2e-4
    /// Longest judge output (stage-1 rollouts and every judgment).
    public var judgeMaxTokens = 64
    /// The judgment the judge SFT stages (format lesson, GRM+SFT) teach (`Judge.sftExamples`
    /// fills the braces): an analysis that states the right answer, then restates each response
    /// with a verdict right after it, then the scores. Each step is then local (compare a
    /// response with the answer a few tokens back); with the scores alone, or with the answers
    /// restated but no verdicts, the judges stayed at chance (README, Results).
    public var judgeFormat = "Correct: {preferred_response} 1: {response_1} {verdict_1}. 2: {response_2} {verdict_2}. Scores: \\boxed{{scores}}"
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
    /// Python reward functions, `FILE.py[:NAME]` as `grlhf rl --reward-fn` takes them (verl's or
    /// TRL's convention, detected): each trains one more GRPO policy from the base, evaluated and
    /// watched like the others. They run in the grlhf CLI's embedded interpreter
    /// (`Pipeline.rewardFunction`); libgrlhf itself embeds no Python.
    public var rewardFunctions: [String] = []

    public init() {}

    /// `json`'s keys over `base` (a preset), so a config file names only what it changes.
    /// Unknown keys are errors (a typo would otherwise be ignored silently), and so is a value
    /// of the wrong type, named by its key.
    public static func decode(_ json: Data, over base: PipelineConfig) throws -> PipelineConfig {
        guard let parsed = try? JSONSerialization.jsonObject(with: json) else { throw GRLHFError.invalidArgument("the pipeline config is not valid JSON") }
        guard let changes = parsed as? [String: Any] else { throw GRLHFError.invalidArgument("the pipeline config is not a JSON object") }
        let original = try JSONSerialization.jsonObject(with: JSONEncoder().encode(base)) as! [String: Any]
        let unknown = Set(changes.keys).subtracting(original.keys)
        guard unknown.isEmpty else {
            throw GRLHFError.invalidArgument("unknown pipeline config keys: \(unknown.sorted().joined(separator: ", ")); known: \(original.keys.sorted().joined(separator: ", "))")
        }
        func decoded(_ object: [String: Any]) throws -> PipelineConfig {
            try JSONDecoder().decode(PipelineConfig.self, from: try JSONSerialization.data(withJSONObject: object))
        }
        if let config = try? decoded(original.merging(changes) { $1 }) { return config }
        for key in changes.keys.sorted() {  // name the first key whose value does not decode
            do { _ = try decoded(original.merging([key: changes[key]!]) { $1 }) } catch {
                throw GRLHFError.invalidArgument("pipeline config \"\(key)\": \(describe(error))")
            }
        }
        return try decoded(original.merging(changes) { $1 })
    }

    static func describe(_ error: Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): return c.debugDescription
        case .keyNotFound(let key, _): return "\"\(key.stringValue)\" is missing"
        @unknown default: return "\(error)"
        }
    }

    /// The default preset: finishes within `make demo`'s budget on two cores.
    public static var tiny: PipelineConfig { PipelineConfig() }

    /// Real pretrained parts (README, "The smol preset"): EfficientNet-Lite0 (frozen) + a projector +
    /// SmolLM2-135M-Instruct with LoRA, from `make models`. Hours on two cores; every stage
    /// checkpoints and a rerun resumes.
    public static var smol: PipelineConfig {
        var c = PipelineConfig()
        c.name = "smol"; c.output = "runs/smol"
        c.languageModel = ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
        c.visionModel = ".cache/models/efficientnet-lite0-57934424.pth"
        c.pretrainSteps = 100; c.sftSteps = 300; c.batchSize = 8
        c.sftLearningRate = 2e-4
        c.rmSteps = 150; c.formatSteps = 40; c.grmSFTSteps = 200; c.grmRLSteps = 60
        c.judgeSFTLearningRate = 2e-4; c.grmRLLearningRate = 5e-5
        c.groupSize = 4; c.promptsPerStep = 2
        c.evalPairs = 100; c.evalPrompts = 100
        c.policySteps = 30; c.policyGroup = 5; c.policyLearningRate = 5e-5; c.dpoSteps = 60
        c.scalingGroups = [3, 5]
        return c
    }

    /// The preset `name` names: tiny, quick or smol.
    public static func preset(_ name: String) throws -> PipelineConfig {
        switch name {
        case "tiny": return .tiny
        case "quick": return .quick
        case "smol": return .smol
        default: throw GRLHFError.invalidArgument("preset \"\(name)\" is not one of tiny, quick, smol")
        }
    }

    /// A few dozen items and steps: the same path in well under a minute (for tests).
    public static var quick: PipelineConfig {
        var c = PipelineConfig()
        c.name = "quick"; c.output = "runs/quick"
        c.vocabSize = 300; c.width = 32; c.visionWidth = 32; c.layers = 1
        c.pretrainSteps = 4; c.sftSteps = 6; c.rmSteps = 4; c.formatSteps = 3; c.grmSFTSteps = 3; c.grmRLSteps = 2
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
    var stageTimes: [StageTime] = []
    /// Stages of this run (for the "[k/N] stage" lines).
    var stageCount = 0
    /// Makes the reward a `rewardFunctions` entry names; set by the grlhf CLI (GRLHFPython).
    /// Without it, a config naming reward functions is refused before any stage runs.
    public var rewardFunction: ((String) throws -> RewardFunction)?

    public init(config: PipelineConfig) { self.config = config }

    /// Each `rewardFunctions` entry: its policy's label, stage folder and reward, made now so a
    /// wrong path or name fails before hours of training.
    func userRewards() throws -> [(label: String, stage: String, reward: RewardFunction)] {
        guard !config.rewardFunctions.isEmpty else { return [] }
        guard let make = rewardFunction else {
            throw GRLHFError.unsupported("rewardFunctions \(config.rewardFunctions) need Python: run the pipeline with the grlhf CLI, which embeds it (libgrlhf does not)")
        }
        var seen = Set<String>()
        return try config.rewardFunctions.map { spec in
            let s = RewardFunctionSpec(spec)
            let stage = "policy-grpo-fn-" + String((s.module + "-" + s.name).map { $0.isLetter || $0.isNumber ? $0 : "-" })
            guard seen.insert(stage).inserted else { throw GRLHFError.invalidArgument("rewardFunctions: \(s.module).py:\(s.name) is given twice") }
            return ("GRPO + \(s.module).py:\(s.name)", stage, try make(spec))
        }
    }

    func path(_ parts: String...) -> String { ([config.output] + parts).joined(separator: "/") }
    func data<T: Decodable>(_ file: String, _ type: T.Type) throws -> [T] { try JSONLines.read(type, from: config.data + "/" + file) }

    /// The first `limit` rows of a test set with their `answer_type` tags (nil where absent).
    func testSet<T: Decodable>(_ file: String, _ type: T.Type, limit: Int) throws -> (rows: [T], tags: [String?]) {
        return (Array(try data(file, type).prefix(limit)), Array(try data(file, Tag.self).prefix(limit).map(\.answer_type)))
    }

    struct Tag: Decodable { var answer_type: String? }

    /// Runs every stage not already finished; returns the summary (also written to summary.json,
    /// and shown with plots in report.html).
    @discardableResult
    public func run() throws -> PipelineSummary {
        Runtime.setThreads(config.threads)
        let user = try userRewards()
        try FileManager.default.createDirectory(atPath: config.output, withIntermediateDirectories: true)
        let lock = try OutputLock(path("pipeline.lock"))
        defer { withExtendedLifetime(lock) {} }
        try AtomicFile.writeJSON(config, to: path("config.json"))
        stageTimes = []
        let sft = try data("sft.jsonl", SFTExample.self)
        let prefs = try data("prefs_train.jsonl", PreferenceExample.self)
        let idPairs = try testSet("prefs_test_id.jsonl", PreferenceExample.self, limit: config.evalPairs)
        let oodPairs = try testSet("prefs_test_ood.jsonl", PreferenceExample.self, limit: config.evalPairs)

        let tokenizer = try stageTokenizer(sft: sft, prefs: prefs)
        let pretrainRows = FileManager.default.fileExists(atPath: config.data + "/pretrain.jsonl") ? try data("pretrain.jsonl", SFTExample.self) : []
        // base, rm-bt, grm, grm-sft, grm-rl, three GRPO policies and DPO, then the optional ones.
        stageCount = 9 + (pretrainRows.isEmpty || config.pretrainSteps == 0 ? 0 : 1) + user.count
            + 2 * config.scalingGroups.filter { $0 != config.policyGroup }.count
        let pretrained: String? = pretrainRows.isEmpty || config.pretrainSteps == 0 ? nil : try stage("pretrain") { dir in
            try supervised(try newModel(tokenizer), tokenizer, pretrainRows, steps: config.pretrainSteps, "pretrain", dir)
        }
        let base = try stage("base") { dir in
            let model = try pretrained.map { try MultimodalModel.load(directory: $0) } ?? newModel(tokenizer)
            try supervised(model, tokenizer, sft, steps: config.sftSteps, "base", dir)
        }
        let prompts = try data("prompts_train.jsonl", PromptExample.self)
        let idPrompts = try testSet("prompts_test.jsonl", PromptExample.self, limit: config.evalPrompts)
        let oodPrompts = try testSet("prompts_test_ood.jsonl", PromptExample.self, limit: config.evalPrompts)
        let answers = Set((prompts + idPrompts.rows + oodPrompts.rows).compactMap(\.groundTruth)).sorted()
        let correct = NamesGroundTruth(alternatives: answers)
        func policyAccuracy(_ dir: String) throws -> PolicyResult {
            try self.policyAccuracy(dir, tokenizer, idPrompts, oodPrompts, correct)
        }
        let baseResult = try policyAccuracy(base)
        log("base policy: " + baseResult.description)
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
        func rmAccuracy(_ set: (rows: [PreferenceExample], tags: [String?])) throws -> SetAccuracy {
            SetAccuracy(try rm.ranksPreferred(set.rows, encoder: rmEncoder).map { $0 ? 1 : 0 }, tags: set.tags)
        }
        let pairsKey = "pairs-\(idPairs.rows.count)-\(oodPairs.rows.count)-\(config.judgeMaxTokens)"
        results["BT RM"] = try evaluated(rmDir, pairsKey) {
            RewardModelResult(id: try rmAccuracy(idPairs), ood: try rmAccuracy(oodPairs), parseFailures: 0)
        }
        log("BT RM: \(results["BT RM"]!)")

        // The judge taught only the output format: short SFT on labelled judgments, stopped
        // before it learns to judge (the paper's untrained-GRM baseline has no GRM training).
        let format = try stage("grm") { dir in
            try judgeSFT(from: base, tokenizer: tokenizer, pairs: prefs, steps: config.formatSteps, stage: "grm", dir: dir)
        }
        let sftJudge = try stage("grm-sft") { dir in
            try judgeSFT(from: format, tokenizer: tokenizer, pairs: prefs, steps: config.grmSFTSteps, stage: "grm-sft", dir: dir)
        }
        let rlJudge = try stage("grm-rl") { dir in
            let judge = try self.judge(format, tokenizer)
            var c = Judge.stage1Config
            c.steps = config.grmRLSteps; c.groupSize = config.groupSize; c.promptsPerStep = config.promptsPerStep; c.seed = config.seed
            c.sampling.maxNewTokens = config.judgeMaxTokens
            c.optimizer = OptimizerConfig(learningRate: config.grmRLLearningRate, weightDecay: 0, warmupRatio: 0, schedule: .constant)
            try train(judge.trainer(pairs: prefs, swapAugment: true, config: c), "grm-rl", dir)
            try judge.model.save(directory: dir)
        }
        func judge(_ dir: String) throws -> Judge { try self.judge(dir, tokenizer) }
        for (label, dir) in [("GRM (untrained)", format), ("GRM+SFT", sftJudge), ("GRM+RL", rlJudge)] {
            results[label] = try evaluated(dir, pairsKey) {
                let j = try judge(dir)
                let id = try j.verdicts(on: idPairs.rows), ood = try j.verdicts(on: oodPairs.rows)
                func accuracy(_ set: (rows: [PreferenceExample], tags: [String?]), _ verdicts: [JudgeVerdict]) -> SetAccuracy {
                    SetAccuracy(zip(set.rows, verdicts).map { $1.accuracy(preferred: $0.preferred) }, tags: set.tags)
                }
                let failed = (id + ood).filter { $0.scores == nil }.count
                return RewardModelResult(id: accuracy(idPairs, id), ood: accuracy(oodPairs, ood),
                                         parseFailures: Float(failed) / Float(Swift.max(1, id.count + ood.count)))
            }
            log("\(label): \(results[label]!)")
        }

        // Policies: GRPO with each reward (n responses per prompt), DPO. Every RL run also records
        // how often its rollouts are right by ground truth (reward-hacking watch).
        let rewards: [(label: String, stage: String, make: () throws -> RewardFunction)] = [
            (PipelineSummary.policyOrder[1], "policy-grpo-bt", { RewardModelReward(rm, encoder: rmEncoder) }),
            (PipelineSummary.policyOrder[2], "policy-grpo-grm", { GroupedComparisonReward(judge: try judge(format)) }),
            (PipelineSummary.policyOrder[3], "policy-grpo-grm-rl", { GroupedComparisonReward(judge: try judge(rlJudge)) }),
        ] + user.map { u in (u.label, u.stage, { u.reward }) }
        var policies: [String: PolicyResult] = [PipelineSummary.policyOrder[0]: baseResult]
        var watch: [RewardWatch] = []
        for r in rewards {
            let dir = try grpoPolicy(r.stage, base: base, tokenizer: tokenizer, prompts: prompts, group: config.policyGroup,
                                     reward: { GroundTruthWatch(try r.make(), truth: correct) })
            policies[r.label] = try policyAccuracy(dir)
            log("\(r.label): \(policies[r.label]!)")
            let metrics = dir + "/metrics.jsonl"
            if let w = RewardWatch(policy: r.label, reward: try PipelineReport.series("reward", in: metrics).map { Float($0.1) },
                                   truth: try PipelineReport.series("ground_truth_accuracy", in: metrics).map { Float($0.1) }) {
                watch.append(w)
            }
        }
        // The paper's scaling experiment: the policy's gain over the base for n = 3, 5, 7
        // responses per prompt, with the GRM+RL judge (grouped comparison) and with the BT RM.
        var scaling: [ScalingPoint] = []
        for n in config.scalingGroups {
            for r in [rewards[0], rewards[2]] {
                let result = n == config.policyGroup ? policies[r.label]!
                    : try policyAccuracy(try grpoPolicy("\(r.stage)-n\(n)", base: base, tokenizer: tokenizer, prompts: prompts, group: n,
                                                        reward: { GroundTruthWatch(try r.make(), truth: correct) }))
                scaling.append(ScalingPoint(reward: r.label, n: n, idGain: result.id.overall - baseResult.id.overall,
                                            oodGain: result.ood.overall - baseResult.ood.overall))
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
        policies[PipelineSummary.policyOrder[4]] = try policyAccuracy(dpo)

        let summary = PipelineSummary(preset: config.name, rewardModels: results, policies: policies, scaling: scaling, rewardWatch: watch,
                                      stages: stageTimes, idPairs: idPairs.rows.count, oodPairs: oodPairs.rows.count,
                                      idPrompts: idPrompts.rows.count, oodPrompts: oodPrompts.rows.count)
        try AtomicFile.writeJSON(summary, to: path("summary.json"))
        try PipelineReport.write(summary, config: config, curves: curves(rewards.map { ($0.label, $0.stage) }), to: config.output)
        log(summary.table)
        return summary
    }

    /// The report's training-curve charts: each stage's loss, the judges' stage-1 reward, and each
    /// RL policy's reward and ground-truth accuracy.
    func curves(_ policies: [(label: String, stage: String)]) -> [(title: String, curves: [PipelineReport.Curve])] {
        typealias Curve = PipelineReport.Curve
        return [
            ("base: warm-up and SFT loss", [Curve(label: "image-grounding warm-up", stage: "pretrain", metric: "loss"),
                                            Curve(label: "SFT", stage: "base", metric: "loss")]),
            ("BT reward model", [Curve(label: "loss", stage: "rm-bt", metric: "loss"), Curve(label: "accuracy", stage: "rm-bt", metric: "accuracy")]),
            ("judge SFT loss", [Curve(label: "GRM format lesson", stage: "grm", metric: "loss"), Curve(label: "GRM+SFT", stage: "grm-sft", metric: "loss")]),
            ("GRM+RL (stage 1)", [Curve(label: "accuracy reward", stage: "grm-rl", metric: "reward"),
                                  Curve(label: "parse failures", stage: "grm-rl", metric: "judge/parse_failure_rate")]),
            ("rollouts right by ground truth", policies.map { Curve(label: $0.label, stage: $0.stage, metric: "ground_truth_accuracy") }),
            ("policies' KL to the base", policies.map { Curve(label: $0.label, stage: $0.stage, metric: "kl") }),
            ("DPO", [Curve(label: "loss", stage: "policy-dpo", metric: "loss"), Curve(label: "reward accuracy", stage: "policy-dpo", metric: "rewards/accuracies")]),
        ] + policies.map { ($0.label, [Curve(label: "reward", stage: $0.stage, metric: "reward")]) }
    }

    /// The judge in `dir`: the compact template, greedy, at most `judgeMaxTokens` (how every
    /// judgment is made; training samples with its own options).
    func judge(_ dir: String, _ tokenizer: Tokenizer) throws -> Judge {
        let j = try Judge(model: try MultimodalModel.load(directory: dir), tokenizer: tokenizer, template: .compact)
        j.options = SamplingOptions(temperature: 0, maxNewTokens: config.judgeMaxTokens)
        return j
    }

    /// SFT of `model` on `rows` (cosine schedule at `sftLearningRate`), saved into `dir`.
    func supervised(_ model: MultimodalModel, _ tokenizer: Tokenizer, _ rows: [SFTExample], steps: Int, _ label: String, _ dir: String) throws {
        var c = SFTConfig()
        c.steps = steps; c.batchSize = config.batchSize; c.seed = config.seed
        c.optimizer = OptimizerConfig(learningRate: config.sftLearningRate, weightDecay: 0.01, warmupRatio: 0.05, schedule: .cosine)
        try train(SFTTrainer(model: model, encoder: try ChatEncoder(tokenizer: tokenizer, model: model), examples: rows, config: c), label, dir)
        try model.save(directory: dir)
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
    func policyAccuracy(_ dir: String, _ tokenizer: Tokenizer, _ id: (rows: [PromptExample], tags: [String?]),
                        _ ood: (rows: [PromptExample], tags: [String?]), _ rule: NamesGroundTruth) throws -> PolicyResult {
        try evaluated(dir, "prompts-\(id.rows.count)-\(ood.rows.count)") {
            let model = try MultimodalModel.load(directory: dir)
            let encoder = try ChatEncoder(tokenizer: tokenizer, model: model)
            var o = SamplingOptions(temperature: 0, maxNewTokens: 16)
            o.stopTokens.insert(encoder.endOfTurn)
            func accuracy(_ set: (rows: [PromptExample], tags: [String?])) throws -> SetAccuracy {
                var hits: [Float] = []
                for start in stride(from: 0, to: set.rows.count, by: 16) {
                    let chunk = Array(set.rows[start..<Swift.min(start + 16, set.rows.count)])
                    let encoded = try chunk.map { try encoder.prompt($0.question, image: $0.image, system: $0.system) }
                    let out = model.sample(prompts: encoded.map(\.ids), images: encoded.map(\.images), count: 1, options: o)
                    for (row, group) in zip(chunk, out) { hits.append(rule.score(encoder.text(group[0].tokens), truth: row.groundTruth ?? "")) }
                }
                return SetAccuracy(hits, tags: set.tags)
            }
            return PolicyResult(id: try accuracy(id), ood: try accuracy(ood))
        }
    }

    /// An evaluation of the finished stage in `dir`, kept there as `eval-KEY.json` (the key names
    /// the set sizes), so a resumed run does not redo it: judging hundreds of pairs with the
    /// smol preset's models takes minutes.
    func evaluated<T: Codable>(_ dir: String, _ key: String, _ measure: () throws -> T) throws -> T {
        let file = "\(dir)/eval-\(key).json"
        if let bytes = FileManager.default.contents(atPath: file), let result = try? JSONDecoder().decode(T.self, from: bytes) { return result }
        let result = try measure()
        try AtomicFile.writeJSON(result, to: file)
        return result
    }

    /// The first model: pretrained parts where the config names them, the rest initialized.
    func newModel(_ tokenizer: Tokenizer) throws -> MultimodalModel {
        let c = try modelConfig(tokenizer)
        guard !config.visionModel.isEmpty else { return try MultimodalModel(c, seed: config.seed) }
        return try MultimodalModel(c, vision: try EfficientNetLite0(contentsOf: try file(config.visionModel, "visionModel")), seed: config.seed)
    }

    func modelConfig(_ tokenizer: Tokenizer) throws -> MultimodalModel.Config {
        let c = config
        let imageToken = try tokenizer.id(for: "<image>").orThrow("the tokenizer has no <image> token")
        let tower: VisionTowerConfig = c.visionModel.isEmpty
            ? .vit(VisionTransformer.Config(imageSize: c.imageSize, patchSize: c.patchSize, hiddenSize: c.visionWidth, numHiddenLayers: c.visionLayers,
                                            numAttentionHeads: 4, intermediateSize: 2 * c.visionWidth))
            : .efficientNetLite0(tokens: .featureMap)
        // EfficientNet-Lite0's normalization; easy-VQA's images are square, so resizing to 224
        // is its resize-and-crop without the crop.
        let preprocessor = c.visionModel.isEmpty ? ImagePreprocessor(size: c.imageSize)
            : ImagePreprocessor(size: 224, mean: CenterCropPreprocessor.efficientNetLite.mean, std: CenterCropPreprocessor.efficientNetLite.std)
        guard c.languageModel.isEmpty else {
            let gguf = try file(c.languageModel, "languageModel")
            return MultimodalModel.Config(text: try DecoderLM.ggufConfig(GGUFFile.open(gguf)), tower: tower, imageTokenIndex: imageToken,
                                          preprocessor: preprocessor, languageWeights: gguf,
                                          lora: LoRAConfig(rank: c.loraRank, alpha: c.loraAlpha, targetModules: c.loraTargets))
        }
        return MultimodalModel.Config(
            text: DecoderLM.Config(vocabSize: tokenizer.vocabSize, hiddenSize: c.width, intermediateSize: 2 * c.width,
                                   numHiddenLayers: c.layers, numAttentionHeads: 4, numKeyValueHeads: 2, tieWordEmbeddings: true),
            tower: tower, imageTokenIndex: imageToken, preprocessor: preprocessor)
    }

    /// The absolute path of a model file the config names (model directories record it, so
    /// they load from anywhere).
    func file(_ path: String, _ key: String) throws -> String {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw GRLHFError.io("\(key) \(path): no such file (make models fetches SmolLM2 and EfficientNet-Lite0 into .cache/models)")
        }
        return url.path
    }

    /// The tokenizer: the language model's own (its `imageTokenFrom` renamed `<image>`), or a
    /// BPE trained on the texts the models will read and write.
    func stageTokenizer(sft: [SFTExample], prefs: [PreferenceExample]) throws -> Tokenizer {
        let file = path("tokenizer.json")
        if FileManager.default.fileExists(atPath: file) { return try Tokenizer.load(contentsOf: file) }
        let tokenizer: Tokenizer
        if config.languageModel.isEmpty {
            var corpus = sft.flatMap { [$0.question, $0.response] } + prefs.prefix(2000).flatMap { [$0.response1, $0.response2] }
            let t = JudgeTemplate.compact
            corpus += [t.instruction, t.body] + (1...10).flatMap { a in (1...10).map { "Scores: \\boxed{\(a), \($0)}" } }
            tokenizer = BPETrainer.train(corpus: corpus, vocabSize: config.vocabSize,
                                         specialTokens: ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>"])
        } else {
            tokenizer = try Tokenizer(gguf: GGUFFile.open(try self.file(config.languageModel, "languageModel")))
                .renamingAddedToken(config.imageTokenFrom, to: "<image>")
        }
        try tokenizer.save(to: file)
        log("tokenizer: \(tokenizer.vocabSize) tokens")
        return tokenizer
    }

    /// The stage's directory, made by `build` unless a previous run finished it. `stage.done`
    /// marks it finished and holds the seconds it took.
    func stage(_ name: String, _ build: (String) throws -> Void) throws -> String {
        let dir = path(name), done = dir + "/stage.done"
        if let bytes = FileManager.default.contents(atPath: done) {
            log("\(name): done earlier")
            stageTimes.append(StageTime(stage: name, seconds: (try? JSONDecoder().decode(StageTime.self, from: bytes))?.seconds))
            return dir
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let resuming = FileManager.default.fileExists(atPath: dir + "/checkpoints/latest")
        log("[\(stageTimes.count + 1)/\(stageCount)] \(name)" + (resuming ? ": resuming from its last checkpoint" : ""))
        let start = Date()
        try build(dir)
        // The tokenizer beside the model makes the folder complete (`grlhf generate --model DIR`).
        if FileManager.default.fileExists(atPath: dir + "/config.json"), let tokenizer = FileManager.default.contents(atPath: path("tokenizer.json")) {
            try AtomicFile.write(tokenizer, to: dir + "/tokenizer.json")
        }
        let time = StageTime(stage: name, seconds: Date().timeIntervalSince(start))
        try AtomicFile.writeJSON(time, to: done)
        stageTimes.append(time)
        return dir
    }

    /// Trains with progress, metrics and checkpoints in `dir`, resuming from its checkpoints.
    func train(_ trainer: Trainer, _ label: String, _ dir: String) throws {
        let checkpoints = dir + "/checkpoints"
        if FileManager.default.fileExists(atPath: checkpoints + "/latest") { try trainer.resume(from: checkpoints) }
        // metrics.jsonl holds exactly the steps taken so far (an interrupted run may have written
        // more than its last checkpoint kept); training appends from there.
        let metrics = try MetricsWriter(path: dir + "/metrics.jsonl")
        trainer.history.forEach(metrics.write)
        trainer.metricsPath = dir + "/metrics.jsonl"
        try trainer.train(progress: true, label: label, checkpointEvery: Swift.max(1, trainer.totalSteps / 4), checkpointDirectory: checkpoints)
        // The run is done: only the last checkpoint can matter now (the stage saves its model next).
        let latest = (try? String(contentsOfFile: checkpoints + "/latest", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        for old in (try? FileManager.default.contentsOfDirectory(atPath: checkpoints)) ?? [] where old.hasPrefix("step-") && old != latest {
            try? FileManager.default.removeItem(atPath: checkpoints + "/" + old)
        }
    }

    func judgeSFT(from source: String, tokenizer: Tokenizer, pairs: [PreferenceExample], steps: Int, stage: String, dir: String) throws {
        let judge = try self.judge(source, tokenizer)
        var c = SFTConfig()
        c.steps = steps; c.batchSize = config.batchSize; c.seed = config.seed
        c.optimizer = OptimizerConfig(learningRate: config.judgeSFTLearningRate, weightDecay: 0, warmupRatio: 0, schedule: .constant)
        let rows = judge.sftExamples(pairs, format: config.judgeFormat)
        try train(SFTTrainer(model: judge.model, encoder: judge.encoder, examples: rows, config: c), stage, dir)
        try judge.model.save(directory: dir)
    }
}

/// An exclusive lock on an output folder for the life of this object: two runs writing the
/// same stages would interleave their checkpoints and metrics. The kernel drops the lock when
/// the process ends, however it ends.
final class OutputLock {
    let fd: Int32

    init(_ path: String) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw GRLHFError.io("\(path): cannot open (\(errnoText()))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw GRLHFError.invalidArgument("another pipeline is running in \((path as NSString).deletingLastPathComponent) (\(path) is locked)")
        }
    }

    deinit { close(fd) }
}

extension Optional {
    func orThrow(_ message: String) throws -> Wrapped {
        guard let value = self else { throw GRLHFError.invalidArgument(message) }
        return value
    }
}
