import Foundation
import Testing
@testable import GRLHF

/// A toy world for the trainers: questions about the colour of things, a BPE tokenizer trained
/// on them, and a tiny Llama-shaped model.
enum Toy {
    static let things = ["sky": "blue", "grass": "green", "blood": "red", "sea": "blue", "leaf": "green", "rose": "red"]
    static let colors = ["red", "green", "blue"]
    static func question(_ thing: String) -> String { "What color is the \(thing)?" }

    static let tokenizer: Tokenizer = {
        var corpus = things.keys.map { question($0) }
        for thing in things.keys { for c in colors { corpus.append("The \(thing) is \(c).") } }
        corpus += colors.map { "It is \($0)." } + ["This answer is correct.", "This answer is wrong.", "a b c d e f g h i j k l m n o p"]
        return BPETrainer.train(corpus: corpus, vocabSize: 300, specialTokens: ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    }()

    static func model(seed: UInt64 = 1) throws -> DecoderLM {
        try DecoderLM(DecoderLM.Config(vocabSize: tokenizer.vocabSize, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2,
                                       numAttentionHeads: 4, numKeyValueHeads: 2, tieWordEmbeddings: true), seed: seed)
    }

    static func encoder(_ model: any CausalLM) throws -> ChatEncoder { try ChatEncoder(tokenizer: tokenizer, model: model) }

    static func optimizer(_ lr: Float) -> OptimizerConfig { OptimizerConfig(learningRate: lr, weightDecay: 0, warmupRatio: 0, schedule: .constant) }

    /// Every thing with every colour: a policy tuned on this answers with a random colour.
    static var uniformAnswers: [SFTExample] {
        things.keys.sorted().flatMap { t in colors.map { SFTExample(question: question(t), response: "It is \($0).") } }
    }

    /// A policy (seed `seed`) tuned for `steps` on `uniformAnswers`: it names a random colour and
    /// ends its turn.
    static func randomColorPolicy(seed: UInt64, steps: Int = 60) throws -> (DecoderLM, ChatEncoder) {
        let policy = try model(seed: seed)
        let encoder = try encoder(policy)
        var sft = SFTConfig()
        sft.steps = steps; sft.batchSize = 6; sft.optimizer = optimizer(1e-2)
        try SFTTrainer(model: policy, encoder: encoder, examples: uniformAnswers, config: sft).train()
        return (policy, encoder)
    }

    static var prompts: [PromptExample] { things.keys.sorted().map { PromptExample(question: question($0), groundTruth: things[$0]) } }

    /// 1 when the completion names the right colour and no other.
    static let colorReward = PointwiseReward { prompt, completion in
        let named = colors.filter { completion.contains($0) }
        return named == [prompt.groundTruth!] ? 1 : 0
    }
}

@Suite(.serialized) struct Alignment {
    @Test func sftOverfitsATinySet() throws {
        let model = try Toy.model()
        let encoder = try Toy.encoder(model)
        let examples = ["sky", "grass", "blood"].map { SFTExample(question: Toy.question($0), response: "The \($0) is \(Toy.things[$0]!).") }
        var config = SFTConfig()
        config.steps = 120; config.batchSize = 3; config.optimizer = Toy.optimizer(1e-2)
        let trainer = try SFTTrainer(model: model, encoder: encoder, examples: examples, config: config)
        try trainer.train()
        let first = trainer.history.first!["loss"]!, last = trainer.history.last!["loss"]!
        #expect(first > 3 && last < 0.05, "loss \(first) → \(last)")
        #expect(trainer.history.last!["mean_token_accuracy"] == 1)
        for e in examples {
            let prompt = try encoder.prompt(e.question, image: nil)
            let out = model.generate(prompt: prompt.ids, options: SamplingOptions(temperature: 0, maxNewTokens: 12, stopTokens: [encoder.endOfTurn]))
            #expect(encoder.text(out.tokens) == e.response && out.finishReason == .stop)
        }
    }

    @Test func gradientAccumulationEqualsOneBigBatch() throws {
        func run(_ accumulation: Int) throws -> [Float] {
            let model = try Toy.model()
            var config = SFTConfig()
            config.steps = 2; config.batchSize = 4; config.gradientAccumulation = accumulation; config.optimizer = Toy.optimizer(1e-3)
            let trainer = try SFTTrainer(model: model, encoder: try Toy.encoder(model), examples: Toy.uniformAnswers, config: config)
            try trainer.train()
            return model.parameters.flatMap(\.scalars)
        }
        let (one, four) = (try run(1), try run(4))
        #expect(zip(one, four).map { abs($0 - $1) }.max()! < 1e-5)
    }

    @Test func rewardModelLearnsASeparablePreference() throws {
        let rm = RewardModel(base: try Toy.model(seed: 2), seed: 3)
        let encoder = try Toy.encoder(rm.base)
        var rng = PCG32(seed: 4)
        func pair() -> PreferenceExample {
            let letters = "abcdefghijklmnop".map(String.init)
            let filler = (0..<3).map { _ in letters[Int(rng.nextUInt32() % 16)] }.joined(separator: " ")
            let preferred = Int(rng.nextUInt32() % 2) + 1
            let good = "\(filler) This answer is correct.", bad = "\(filler) This answer is wrong."
            return PreferenceExample(question: Toy.question(Toy.things.keys.sorted()[Int(rng.nextUInt32() % 6)]),
                                     response1: preferred == 1 ? good : bad, response2: preferred == 1 ? bad : good, preferred: preferred)
        }
        let train = (0..<48).map { _ in pair() }, heldOut = (0..<40).map { _ in pair() }
        var config = RewardModelConfig()
        config.steps = 40; config.batchSize = 8; config.optimizer = Toy.optimizer(3e-3)
        let trainer = try RewardModelTrainer(rewardModel: rm, encoder: encoder, pairs: train, config: config)
        let before = try rm.accuracy(on: heldOut, encoder: encoder)
        try trainer.train()
        let after = try rm.accuracy(on: heldOut, encoder: encoder)
        #expect(after > 0.95, "held-out accuracy \(before) → \(after)")
        // Saved and reloaded, it scores the same.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grlhf-rm-\(UInt32.random(in: 0 ... .max))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try rm.save(directory: dir)
        let back = try RewardModel.load(directory: dir)
        let rows = heldOut.prefix(4).map { ($0.question, $0.image, $0.response1) }
        #expect(try back.score(rows, encoder: try Toy.encoder(back.base)) == rm.score(rows, encoder: encoder))
    }

    @Test func dpoRaisesImplicitRewardAccuracy() throws {
        let policy = try Toy.model(seed: 5)
        let encoder = try Toy.encoder(policy)
        let pairs = Toy.things.keys.sorted().map { t in
            let wrong = Toy.colors.first { $0 != Toy.things[t]! }!
            return PreferenceExample(question: Toy.question(t), response1: "The \(t) is \(wrong).",
                                     response2: "The \(t) is \(Toy.things[t]!).", preferred: 2)
        }
        var config = DPOConfig()
        config.steps = 25; config.batchSize = 6; config.optimizer = Toy.optimizer(2e-3)
        let trainer = try DPOTrainer(policy: policy, encoder: encoder, pairs: pairs, config: config)
        try trainer.train()
        let first = trainer.history.first!, last = trainer.history.last!
        // The first step sees the policy equal to the reference: every implicit reward is 0.
        #expect(first["rewards/accuracies"] == 0 && abs(first["loss"]! - log(2)) < 1e-5)
        #expect(last["rewards/accuracies"] == 1 && last["rewards/margins"]! > 0.5 && last["loss"]! < 0.4, "\(last)")
    }

    /// GRPO from a policy that names a random colour, on questions whose answer is blue: the
    /// mean reward of the rule "names the right colour, and only it" rises from about ⅓.
    @Test func grpoRaisesTheRewardOfAToyTask() throws {
        let (policy, encoder) = try Toy.randomColorPolicy(seed: 6)
        var config = GRPOConfig()
        config.steps = 12; config.promptsPerStep = 2; config.groupSize = 8; config.epochs = 2; config.miniBatches = 2
        config.sampling = SamplingOptions(temperature: 1, maxNewTokens: 8)
        config.optimizer = Toy.optimizer(1e-3)
        let prompts = Toy.prompts.filter { $0.groundTruth == "blue" }
        let trainer = try GRPOTrainer(policy: policy, encoder: encoder, prompts: prompts, reward: Toy.colorReward, config: config)
        try trainer.train()
        let rewards = trainer.history.map { $0["reward"]! }
        let early = rewards.prefix(3).reduce(0, +) / 3, late = rewards.suffix(3).reduce(0, +) / 3
        #expect(early < 0.6 && late > 0.85, "reward \(early) → \(late): \(rewards)")
        #expect(trainer.history.allSatisfy { $0["loss"]!.isFinite && $0["skipped_steps"] == 0 && $0["kl"]! >= 0 })
    }

    /// The PPO baseline on the same task: a critic on its own copy of the model, GAE, and the
    /// rule reward at the last token.
    @Test func ppoRaisesTheRewardOfAToyTask() throws {
        let (policy, encoder) = try Toy.randomColorPolicy(seed: 6)
        var config = PPOConfig()
        config.steps = 12; config.promptsPerStep = 2; config.completionsPerPrompt = 8; config.epochs = 2; config.miniBatches = 2
        config.whitenAdvantages = true
        config.sampling = SamplingOptions(temperature: 1, maxNewTokens: 8)
        config.optimizer = Toy.optimizer(1e-3)
        config.criticOptimizer = Toy.optimizer(1e-3)
        let prompts = Toy.prompts.filter { $0.groundTruth == "blue" }
        let trainer = try PPOTrainer(policy: policy, encoder: encoder, prompts: prompts, reward: Toy.colorReward, config: config)
        try trainer.train()
        let rewards = trainer.history.map { $0["reward"]! }
        let early = rewards.prefix(3).reduce(0, +) / 3, late = rewards.suffix(3).reduce(0, +) / 3
        #expect(early < 0.6 && late > 0.85, "reward \(early) → \(late): \(rewards)")
        #expect(trainer.history.allSatisfy { $0["loss"]!.isFinite && $0["value_loss"]!.isFinite && $0["skipped_steps"] == 0 })
        // The critic learns: its loss falls as its values approach the returns.
        let valueLosses = trainer.history.map { $0["value_loss"]! }
        #expect(valueLosses.suffix(3).reduce(0, +) < valueLosses.prefix(3).reduce(0, +), "\(valueLosses)")
    }

    @Test func grpoHandlesZeroVarianceGroupsAndGroupsOfOne() throws {
        let policy = try Toy.model(seed: 7)
        let encoder = try Toy.encoder(policy)
        for group in [1, 4] {
            var config = GRPOConfig()
            config.steps = 2; config.promptsPerStep = 2; config.groupSize = group
            config.sampling = SamplingOptions(temperature: 1, maxNewTokens: 4)
            let constant = PointwiseReward { _, _ in 1 }
            let trainer = try GRPOTrainer(policy: policy, encoder: encoder, prompts: Toy.prompts, reward: constant, config: config)
            try trainer.train()
            for m in trainer.history {
                #expect(m["loss"]!.isFinite && m["grad_norm"]!.isFinite && m["skipped_steps"] == 0)
                #expect(m["frac_reward_zero_std"] == 1 && m["reward"] == 1)
            }
            // π_old is recomputed on the update's own batch and the reference is the starting
            // policy: the first update's KL is exactly 0.
            #expect(trainer.history[0]["kl"] == 0)
        }
        // A reward of the wrong length is an error that names the problem, and consumes no prompts.
        let short = PointwiseReward { _, _ in .nan }
        var config = GRPOConfig()
        config.steps = 1; config.promptsPerStep = 1; config.groupSize = 2
        let trainer = try GRPOTrainer(policy: policy, encoder: encoder, prompts: Toy.prompts, reward: short, config: config)
        #expect(throws: GRLHFError.self) { try trainer.runStep() }
        #expect(trainer.data.position == 0 && trainer.step == 0)
    }

    @Test func aNonFiniteLossLeavesTheWeightsUnchanged() throws {
        final class Poisoned: Trainer {
            let model: DecoderLM
            init(_ model: DecoderLM) {
                self.model = model
                super.init(parameters: model.trainableParameters(), optimizer: Toy.optimizer(1e-2), totalSteps: 2, rows: 1, seed: 0)
            }
            override func trainStep() throws -> Metrics {
                let loss = model.causalLMLoss([1, 2, 3, 4], batch: 1, time: 4) * Float.nan
                loss.backward()
                let g = applyGradients(loss: loss.item)
                return ["loss": Double(loss.item), "grad_norm": Double(g.gradNorm)]
            }
        }
        let model = try Toy.model()
        let before = model.parameters.map(\.scalars)
        let trainer = Poisoned(model)
        try trainer.train()
        #expect(model.parameters.map(\.scalars) == before)
        #expect(trainer.skippedSteps == 2 && trainer.optimizer.stepCount == 0)
    }

    /// Stopping after two steps, saving, and resuming into a fresh trainer gives the same weights,
    /// bit for bit, as four uninterrupted steps (SFT; GRPO and PPO, whose sampling is seeded per
    /// step; PPO's critic and its optimizer are checkpointed beside the policy).
    @Test func resumeIsBitExact() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("grlhf-ckpt-\(UInt32.random(in: 0 ... .max))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        func sft(_ model: DecoderLM) throws -> Trainer {
            var c = SFTConfig()
            c.steps = 4; c.batchSize = 4; c.optimizer = OptimizerConfig(learningRate: 1e-3)
            return try SFTTrainer(model: model, encoder: try Toy.encoder(model), examples: Toy.uniformAnswers, config: c)
        }
        func grpo(_ model: DecoderLM) throws -> Trainer {
            var c = GRPOConfig()
            c.steps = 4; c.promptsPerStep = 2; c.groupSize = 3; c.epochs = 2; c.miniBatches = 2
            c.sampling = SamplingOptions(temperature: 1, maxNewTokens: 6)
            c.optimizer = OptimizerConfig(learningRate: 1e-3)
            return try GRPOTrainer(policy: model, encoder: try Toy.encoder(model), prompts: Toy.prompts, reward: Toy.colorReward, config: c)
        }
        func ppo(_ model: DecoderLM) throws -> Trainer {
            var c = PPOConfig()
            c.steps = 4; c.promptsPerStep = 2; c.completionsPerPrompt = 2; c.epochs = 2; c.miniBatches = 2
            c.sampling = SamplingOptions(temperature: 1, maxNewTokens: 6)
            c.optimizer = OptimizerConfig(learningRate: 1e-3)
            return try PPOTrainer(policy: model, encoder: try Toy.encoder(model), prompts: Toy.prompts, reward: Toy.colorReward, config: c)
        }
        for (name, make) in [("sft", sft), ("grpo", grpo), ("ppo", ppo)] {
            let straight = try Toy.model()
            let a = try make(straight)
            try a.train()
            let interrupted = try Toy.model()
            let b = try make(interrupted)
            try b.train(steps: 2, checkpointEvery: 2, checkpointDirectory: root + "/" + name)
            let resumedModel = try Toy.model()
            let c = try make(resumedModel)
            try c.resume(from: root + "/" + name)
            #expect(c.step == 2 && c.history.count == 2)
            try c.train()
            #expect(resumedModel.parameters.map(\.scalars) == straight.parameters.map(\.scalars), "\(name) weights differ")
            #expect(c.history.map { $0["loss"]! } == a.history.map { $0["loss"]! }, "\(name) losses differ")
        }
        // A damaged checkpoint is refused with an error.
        try Data("{".utf8).write(to: URL(fileURLWithPath: root + "/sft/step-000002/state.json"))
        #expect(throws: GRLHFError.self) { try sft(try Toy.model()).resume(from: root + "/sft") }
    }
}
