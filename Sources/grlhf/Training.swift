import ArgumentParser
import Foundation
import GRLHF

// The training commands: sft, train-rm, dpo and rl. Each builds its trainer from the option
// groups below and hands it to `TrainingSession`, which does everything around the trainer.

extension LRSchedule.Kind: ExpressibleByArgument {}
extension Losses.KLEstimator: ExpressibleByArgument {}

/// The model a command starts from: a model directory, or random weights from a config.
struct ModelOptions: ParsableArguments {
    @Option(help: "Model directory to start from (config.json, model.safetensors, tokenizer.json).")
    var model: String?
    @Option(help: "Instead of --model: random weights from this config.json (Llama, Qwen2 or llava); needs --tokenizer.")
    var initConfig: String?
    @Option(help: "A tokenizer.json (default: the one in --model's directory).")
    var tokenizer: String?

    func validate() throws {
        guard (model == nil) != (initConfig == nil) else {
            throw ValidationError("give either --model DIR or --init-config CONFIG.json --tokenizer TOKENIZER.json")
        }
        if initConfig != nil && tokenizer == nil { throw ValidationError("--init-config needs --tokenizer TOKENIZER.json") }
    }

    func load(seed: UInt64) throws -> (model: any CausalLM, tokenizer: Tokenizer) { (try loadModel(seed: seed), try loadTokenizer()) }

    func loadModel(seed: UInt64) throws -> any CausalLM {
        try model.map { try GRLHF.loadModel(directory: $0) } ?? initModel(configFile: initConfig!, seed: seed)
    }

    func loadTokenizer() throws -> Tokenizer { try Tokenizer.load(contentsOf: tokenizer ?? model! + "/tokenizer.json") }
}

/// Data, output, length, optimizer, threads and checkpoints: what every training command takes.
struct TrainingOptions: ParsableArguments {
    @Option(help: "Training rows, one JSON object per line (see README, \"Training from the command line\").")
    var data: String
    @Option(help: "Output directory: the trained model, metrics.jsonl, a plot, checkpoints/.")
    var out: String
    @Option(help: "Trainer steps: batches (rollout batches for rl).")
    var steps = 100
    @Option(name: .customLong("lr"), help: "Peak learning rate (default: the command's, see README).")
    var learningRate: Float?
    @Option(help: "Fraction of the updates spent warming up linearly (default 0.03).")
    var warmupRatio: Float?
    @Option(help: "Learning-rate schedule after warm-up: constant, linear or cosine (default: the command's).")
    var schedule: LRSchedule.Kind?
    @Option(help: "AdamW's decoupled weight decay (default 0.01).")
    var weightDecay: Float?
    @Option(help: "Clip the global gradient norm to this; 0 turns clipping off (default 1).")
    var maxGradNorm: Float?
    @Option(help: "Seed for random initialization, data order, LoRA, the reward head and sampling.")
    var seed: UInt64 = 0
    @Option(help: "Threads for grlhf's parallel work.")
    var threads = 1
    @Option(help: "Save a checkpoint under OUT/checkpoints every N steps and at the end (0: none).")
    var checkpointEvery = 0
    @Flag(help: "Continue from OUT/checkpoints/latest when there is one (give the interrupted run's options).")
    var resume = false
    @Option(help: "Stop after N steps of this invocation and checkpoint; continue later with --resume (default: none).")
    var stopAfter: Int?

    func validate() throws {
        guard steps > 0, threads > 0, checkpointEvery >= 0, (stopAfter ?? 1) > 0 else {
            throw ValidationError("--steps, --threads and --stop-after must be at least 1, --checkpoint-every at least 0")
        }
    }

    /// The command's optimizer defaults with the options given here.
    func optimizer(_ defaults: OptimizerConfig) -> OptimizerConfig {
        var c = defaults
        if let learningRate { c.learningRate = learningRate }
        if let warmupRatio { c.warmupRatio = warmupRatio }
        if let schedule { c.schedule = schedule }
        if let weightDecay { c.weightDecay = weightDecay }
        if let maxGradNorm { c.maxGradNorm = maxGradNorm }
        return c
    }
}

/// Training LoRA adapters instead of every weight.
struct LoRAOptions: ParsableArguments {
    @Option(help: "Train LoRA adapters of this rank; the base weights stay frozen.")
    var loraRank: Int?
    @Option(help: "LoRA alpha: updates are scaled by alpha / rank (default: the rank).")
    var loraAlpha: Float?
    @Option(help: "Comma-separated names of the Linear layers to adapt (default q_proj,v_proj).")
    var loraTargets: String?
    @Flag(help: "With LoRA: write only the adapter (OUT/adapter), not the merged model.")
    var noMerge = false

    func validate() throws {
        if loraRank == nil && (loraAlpha != nil || loraTargets != nil || noMerge) {
            throw ValidationError("--lora-alpha, --lora-targets and --no-merge need --lora-rank")
        }
    }

    /// Attaches adapters to `model` (nil without --lora-rank).
    func attach(to model: Module, seed: UInt64, base: String?) throws -> LoRA? {
        guard let rank = loraRank else { return nil }
        let targets = (loraTargets ?? "q_proj,v_proj").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let config = LoRAConfig(rank: rank, alpha: loraAlpha ?? Float(rank), targetModules: targets, baseModelNameOrPath: base ?? "")
        return try LoRA.attach(to: model, config: config, seed: seed)
    }
}

/// What the training commands share around their trainer: the output directory, resuming,
/// the progress bar, metrics.jsonl, checkpoints, the plot, writing the model and the summary.
struct TrainingSession {
    let name: String
    let options: TrainingOptions
    let lora: LoRAOptions
    /// Metrics shown in the progress bar and the summary.
    let keys: [String]
    /// The plot's file name in OUT and the metrics it draws.
    let plot: (file: String, keys: [String])

    init(_ name: String, _ options: TrainingOptions, _ lora: LoRAOptions, keys: [String], plot: (file: String, keys: [String])) throws {
        (self.name, self.options, self.lora, self.keys, self.plot) = (name, options, lora, keys, plot)
        setvbuf(stdout, nil, _IOLBF, 0)  // keep our lines in order with the progress bar on stderr
        Runtime.setThreads(options.threads)
        do { try FileManager.default.createDirectory(atPath: options.out, withIntermediateDirectories: true) } catch {
            throw GRLHFError.io("\(options.out): cannot create the directory (\(error.localizedDescription))")
        }
    }

    var checkpoints: String { options.out + "/checkpoints" }
    var metricsPath: String { options.out + "/metrics.jsonl" }

    /// The rows of --data (relative image paths resolved against its folder).
    func rows<T: Decodable>(_ type: T.Type) throws -> [T] {
        let rows = try JSONLines.read(type, from: options.data)
        guard !rows.isEmpty else { throw GRLHFError.invalidArgument("\(options.data): no rows") }
        return rows
    }

    /// Trains (resuming first when asked), then calls `finish` (which writes the model and
    /// returns summary lines), and prints the summary.
    func run(_ trainer: Trainer, finish: () throws -> [String]) throws {
        let o = trainer.optimizerConfig
        print("\(name): \(trainer.data.count) rows, \(trainer.totalSteps) steps, \(trainer.parameters.reduce(0) { $0 + $1.tensor.count }) "
              + "trained parameters\(lora.loraRank == nil ? "" : " (LoRA)"); lr \(o.learningRate) \(o.schedule.rawValue), "
              + "warm-up \(o.warmupRatio), weight decay \(o.weightDecay), grad-norm clip \(o.maxGradNorm)")
        let hasCheckpoint = FileManager.default.fileExists(atPath: checkpoints + "/latest")
        if options.resume && hasCheckpoint {
            try trainer.resume(from: checkpoints)
            print("\(name): resumed from \(checkpoints) at step \(trainer.step) of \(trainer.totalSteps)")
        } else if options.resume {
            print("\(name): no checkpoint in \(checkpoints); starting from step 0")
        } else if hasCheckpoint {
            print("\(name): note: \(checkpoints) holds an earlier run's checkpoints; this run starts from step 0")
        }
        // metrics.jsonl holds exactly the steps taken so far (a run that crashed after its last
        // checkpoint may have written more); `train` appends from there.
        let writer = try MetricsWriter(path: metricsPath)
        trainer.history.forEach(writer.write)
        trainer.metricsPath = metricsPath

        let first = trainer.step, end = min(trainer.totalSteps, first + (options.stopAfter ?? trainer.totalSteps))
        let bar = ProgressBar(total: Double(end - first), label: name)
        let (keys, steps) = (keys, trainer.totalSteps)
        func status(_ step: Int, _ m: Metrics?) -> String {
            "step \(step)/\(steps)  " + keys.map { "\($0) \(Self.format(m?[$0]))" }.joined(separator: "  ")
        }
        trainer.onStep = { step, m in
            bar.update(Double(step - first), status: status(step, m))
            return true
        }
        try trainer.train(steps: end - first, checkpointEvery: options.checkpointEvery, checkpointDirectory: checkpoints)
        bar.finish(status: status(trainer.step, trainer.history.last))
        // A run stopped or resumed by request always leaves its last step checkpointed.
        if options.checkpointEvery == 0 && (options.stopAfter != nil || options.resume) && trainer.step > first {
            try trainer.saveCheckpoint(in: checkpoints)
        }

        var chart = LinePlot(title: name, xLabel: "step")
        for key in plot.keys { chart.add(key, trainer.history.map { ($0["step"] ?? .nan, $0[key] ?? .nan) }) }
        try chart.write(to: options.out + "/" + plot.file)

        let notes = try finish()
        summary(trainer, notes)
    }

    func summary(_ trainer: Trainer, _ notes: [String]) {
        let h = trainer.history
        func total(_ key: String) -> Double { h.reduce(0) { $0 + ($1[key] ?? 0) } }
        let seconds = total("step_time")
        print(String(format: "%@: %d steps, %.3f s/step, %.0f tokens/s", name, trainer.step, seconds / Double(max(h.count, 1)),
                     total("tokens") / max(seconds, 1e-9)))
        let width = keys.map(\.count).max()! + 2
        for key in keys {
            let values = h.compactMap { $0[key] }.filter(\.isFinite)
            let mean = values.isEmpty ? Double.nan : values.reduce(0, +) / Double(values.count)
            print("  " + key.padding(toLength: width, withPad: " ", startingAt: 0) + "final \(Self.format(h.last?[key]))  mean \(Self.format(mean))")
        }
        if trainer.skippedSteps > 0 { print("  skipped updates (non-finite loss or gradients): \(trainer.skippedSteps)") }
        if trainer.step < trainer.totalSteps {
            print("  stopped at step \(trainer.step) of \(trainer.totalSteps); continue with --resume")
        }
        for line in notes { print("  " + line) }
        print("  metrics      \(metricsPath)")
        print("  plot         \(options.out)/\(plot.file)")
        if let latest = FileManager.default.contents(atPath: checkpoints + "/latest") {
            print("  checkpoints  \(checkpoints) (latest \(String(decoding: latest, as: UTF8.self)))")
        }
    }

    static func format(_ x: Double?) -> String { x.map { String(format: "%.4f", $0) } ?? "-" }

    /// Writes the trained model to OUT with the tokenizer; with LoRA, first the adapter to
    /// OUT/adapter (with `adapterExtras`), then, unless --no-merge, the merged model. Returns
    /// summary lines naming what was written.
    func writeModel(_ adapter: LoRA?, tokenizer: Tokenizer, adapterExtras: (String) throws -> Void = { _ in },
                    save: (String) throws -> Void) throws -> [String] {
        var lines: [String] = []
        if let adapter {
            let dir = options.out + "/adapter"
            try adapter.save(directory: dir)
            try adapterExtras(dir)
            lines.append("adapter      \(dir)")
            if lora.noMerge { return lines }
            adapter.merge()
        }
        try save(options.out)
        try tokenizer.save(to: options.out + "/tokenizer.json")
        lines.append("model        \(options.out)" + (adapter == nil ? "" : " (adapter merged)"))
        return lines
    }
}

struct SFT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sft", abstract: "Supervised fine-tuning on {question, image?, response} rows.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var training: TrainingOptions
    @OptionGroup var lora: LoRAOptions
    @Option(help: "Sequences per update.") var batchSize = SFTConfig().batchSize
    @Option(help: "Forward passes each batch is split into (gradients accumulated).") var gradientAccumulation = 1

    func run() throws {
        let session = try TrainingSession("sft", training, lora, keys: ["loss", "mean_token_accuracy"], plot: ("loss.png", ["loss"]))
        let examples = try session.rows(SFTExample.self)
        let (policy, tokenizer) = try model.load(seed: training.seed)
        let adapter = try lora.attach(to: policy, seed: training.seed, base: model.model)
        var config = SFTConfig()
        config.steps = training.steps; config.batchSize = batchSize; config.gradientAccumulation = gradientAccumulation
        config.optimizer = training.optimizer(config.optimizer); config.seed = training.seed
        let trainer = try SFTTrainer(model: policy, encoder: try ChatEncoder(tokenizer: tokenizer, model: policy), examples: examples, config: config)
        try session.run(trainer) { try session.writeModel(adapter, tokenizer: tokenizer, save: policy.save) }
    }
}

struct TrainRM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-rm",
        abstract: "Train a Bradley-Terry reward model on {question, image?, response_1, response_2, preferred} rows.",
        discussion: "--model may be a language model (a new score head is added) or a reward model directory to train further. "
            + "The output is a reward model directory: the model plus score.safetensors.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var training: TrainingOptions
    @OptionGroup var lora: LoRAOptions
    @Option(help: "Preference pairs per update.") var batchSize = RewardModelConfig().batchSize
    @Option(help: "Held-out preference rows: print the fraction whose preferred response scores higher.") var eval: String?

    func run() throws {
        let session = try TrainingSession("train-rm", training, lora, keys: ["loss", "accuracy", "rewards/margins"],
                                          plot: ("loss.png", ["loss", "accuracy"]))
        let pairs = try session.rows(PreferenceExample.self)
        let heldOut = try eval.map { try JSONLines.read(PreferenceExample.self, from: $0) }
        let rm: RewardModel, tokenizer = try model.loadTokenizer()
        if let dir = model.model, FileManager.default.fileExists(atPath: dir + "/score.safetensors") {
            rm = try RewardModel.load(directory: dir)
        } else {
            rm = RewardModel(base: try model.loadModel(seed: training.seed), seed: training.seed)
        }
        let adapter = try lora.attach(to: rm.base, seed: training.seed, base: model.model)  // the head stays trainable
        var config = RewardModelConfig()
        config.steps = training.steps; config.batchSize = batchSize
        config.optimizer = training.optimizer(config.optimizer); config.seed = training.seed
        let encoder = try ChatEncoder(tokenizer: tokenizer, model: rm.base)
        let trainer = try RewardModelTrainer(rewardModel: rm, encoder: encoder, pairs: pairs, config: config)
        try session.run(trainer) {
            var lines: [String] = []
            if let heldOut, let path = eval {
                let accuracy = try rm.accuracy(on: heldOut, encoder: encoder)
                lines.append(String(format: "held-out accuracy %.4f on %d pairs (%@)", accuracy, heldOut.count, path))
            }
            // Unmerged, the adapter directory also carries the trained head.
            return try lines + session.writeModel(adapter, tokenizer: tokenizer, adapterExtras: { dir in
                try Safetensors.write([("score.weight", rm.head.weight)], to: dir + "/score.safetensors")
            }, save: rm.save)
        }
    }
}

struct DPO: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dpo",
        abstract: "Direct preference optimization on {question, image?, response_1, response_2, preferred} rows, against a frozen copy of the starting model.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var training: TrainingOptions
    @OptionGroup var lora: LoRAOptions
    @Option(help: "Preference pairs per update.") var batchSize = DPOConfig().batchSize
    @Option(help: "β: strength of the implicit KL to the reference.") var beta = DPOConfig().beta

    func run() throws {
        let session = try TrainingSession("dpo", training, lora, keys: ["loss", "rewards/accuracies", "rewards/margins"],
                                          plot: ("loss.png", ["loss", "rewards/accuracies"]))
        let pairs = try session.rows(PreferenceExample.self)
        let (policy, tokenizer) = try model.load(seed: training.seed)
        let adapter = try lora.attach(to: policy, seed: training.seed, base: model.model)
        var config = DPOConfig()
        config.steps = training.steps; config.batchSize = batchSize; config.beta = beta
        config.optimizer = training.optimizer(config.optimizer); config.seed = training.seed
        let trainer = try DPOTrainer(policy: policy, encoder: try ChatEncoder(tokenizer: tokenizer, model: policy), pairs: pairs, config: config)
        try session.run(trainer) { try session.writeModel(adapter, tokenizer: tokenizer, save: policy.save) }
    }
}

struct RL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rl", abstract: "Policy RL on {question, image?, ground_truth?} prompt rows, with a reward model, rule rewards, a generative judge (grouped comparison), Python reward functions, or a weighted sum of several.")

    /// The policy-gradient algorithm: a case here and its trainer in `trainer`.
    enum Algorithm: String, ExpressibleByArgument, CaseIterable {
        case grpo, ppo
    }

    @OptionGroup var model: ModelOptions
    @OptionGroup var training: TrainingOptions
    @OptionGroup var lora: LoRAOptions
    @OptionGroup var rewards: RewardOptions
    @Option(help: "grpo (group-relative advantages, no critic) or ppo (a critic on a copy of the policy, GAE).")
    var algorithm = Algorithm.grpo
    @Option(help: "Completions sampled per prompt (PPO: default 1).") var groupSize: Int?
    @Option(help: "Prompts per rollout batch.") var promptsPerStep = GRPOConfig().promptsPerStep
    @Option(help: "Passes over each rollout batch.") var epochs = GRPOConfig().epochs
    @Option(help: "Updates per pass (the rollout batch split in this many mini-batches).") var miniBatches = GRPOConfig().miniBatches
    @Option(help: "β of the KL-to-reference loss term (0: no reference model).") var klCoef = GRPOConfig().klCoefficient
    @Option(help: "KL estimator: k1 or k3.") var klEstimator = GRPOConfig().klEstimator
    @Option(help: "ε of the clipped surrogate.") var clip = GRPOConfig().clip
    @Option(help: "Tokens per completion at most.") var maxNewTokens = GRPOConfig().sampling.maxNewTokens
    @Option(help: "Sampling temperature.") var temperature = GRPOConfig().sampling.temperature
    @Flag(help: "Leave completions that hit --max-new-tokens out of the loss.") var maskTruncated = false
    @Option(help: "PPO: the critic's learning rate (constant).") var criticLr = PPOConfig().criticOptimizer.learningRate

    func run() throws {
        let keys = ["reward", "loss", "kl", "completion_length"] + (try rewards.metricKeys())
        let session = try TrainingSession("rl", training, lora, keys: keys,
                                          plot: ("reward.png", ["reward"]))
        let prompts = try session.rows(PromptExample.self)
        let (policy, tokenizer) = try model.load(seed: training.seed)
        let reward = try rewards.function(prompts: prompts, tokenizer: tokenizer) { print("rl: " + $0) }
        let adapter = try lora.attach(to: policy, seed: training.seed, base: model.model)
        let encoder = try ChatEncoder(tokenizer: tokenizer, model: policy)
        let trainer = try self.trainer(policy: policy, encoder: encoder, prompts: prompts, reward: reward)
        try session.run(trainer) { try session.writeModel(adapter, tokenizer: tokenizer, save: policy.save) }
    }

    func trainer(policy: any CausalLM, encoder: ChatEncoder, prompts: [PromptExample], reward: RewardFunction) throws -> Trainer {
        switch algorithm {
        case .grpo:
            var c = GRPOConfig()
            c.steps = training.steps; c.promptsPerStep = promptsPerStep; c.groupSize = groupSize ?? c.groupSize
            c.epochs = epochs; c.miniBatches = miniBatches; c.clip = clip
            c.klCoefficient = klCoef; c.klEstimator = klEstimator; c.maskTruncated = maskTruncated
            c.sampling = SamplingOptions(temperature: temperature, maxNewTokens: maxNewTokens)
            c.optimizer = training.optimizer(c.optimizer); c.seed = training.seed
            return try GRPOTrainer(policy: policy, encoder: encoder, prompts: prompts, reward: reward, config: c)
        case .ppo:
            // PPO's KL is a per-token reward penalty (log π − log π_ref), not a loss term.
            if maskTruncated { throw ValidationError("--mask-truncated is a GRPO option") }
            var c = PPOConfig()
            c.steps = training.steps; c.promptsPerStep = promptsPerStep; c.completionsPerPrompt = groupSize ?? c.completionsPerPrompt
            c.epochs = epochs; c.miniBatches = miniBatches; c.clip = clip; c.klCoefficient = klCoef
            c.sampling = SamplingOptions(temperature: temperature, maxNewTokens: maxNewTokens)
            c.optimizer = training.optimizer(c.optimizer); c.seed = training.seed
            c.criticOptimizer.learningRate = criticLr
            return try PPOTrainer(policy: policy, encoder: encoder, prompts: prompts, reward: reward, config: c)
        }
    }
}
