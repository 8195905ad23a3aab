import Foundation

public struct GRPOConfig: Codable, Equatable, Sendable {
    /// Rollout batches.
    public var steps = 100
    /// Prompts per rollout batch.
    public var promptsPerStep = 4
    /// Completions sampled per prompt (G).
    public var groupSize = 8
    /// Passes over each rollout batch with π_old fixed, and updates per pass.
    public var epochs = 1
    public var miniBatches = 1
    /// ε of the clipped surrogate.
    public var clip: Float = 0.2
    /// β of the KL-to-reference loss term (0: no reference model is kept).
    public var klCoefficient: Float = 0.02
    public var klEstimator: Losses.KLEstimator = .k3
    /// Leave completions that hit the length limit out of the loss.
    public var maskTruncated = false
    /// How completions are drawn (the paper: temperature 1). Stop tokens get the end of turn added.
    public var sampling = SamplingOptions(temperature: 1, maxNewTokens: 64)
    public var optimizer = OptimizerConfig(learningRate: 1e-6, warmupRatio: 0.03)
    public var seed: UInt64 = 0
    public init() {}
}

/// Group relative policy optimization (paper.md §1a): G completions per prompt, rewards from a
/// `RewardFunction`, advantages normalized within each group and given to every token, the
/// clipped surrogate on per-token ratios to π_old (the policy that sampled), plus β·KL to a
/// frozen reference as a loss term, averaged over all tokens of a mini-batch ("token-mean").
public final class GRPOTrainer: Trainer {
    public let policy: any CausalLM
    public let reference: (any CausalLM)?
    public let config: GRPOConfig
    public let reward: RewardFunction
    let encoder: ChatEncoder
    let prompts: [PromptExample]

    /// `reference` defaults to a frozen copy of `policy` as it is now (none when β is 0).
    public init(policy: any CausalLM, reference: (any CausalLM)? = nil, encoder: ChatEncoder, prompts: [PromptExample],
                reward: RewardFunction, config: GRPOConfig = GRPOConfig()) throws {
        guard !prompts.isEmpty, config.steps > 0, config.promptsPerStep > 0, config.groupSize > 0, config.epochs > 0,
              config.miniBatches > 0, config.miniBatches <= config.promptsPerStep * config.groupSize, config.sampling.maxNewTokens > 0 else {
            throw GRLHFError.invalidArgument("GRPO: no prompts, or a size below 1 (steps, prompts per step, group, epochs, mini-batches, max new tokens)")
        }
        self.policy = policy
        self.reference = config.klCoefficient == 0 ? nil : try reference ?? frozenCopy(policy)
        self.config = config
        self.reward = reward
        self.encoder = encoder
        self.prompts = prompts
        super.init(parameters: policy.trainableParameters(), optimizer: config.optimizer, totalSteps: config.steps,
                   updatesPerStep: config.epochs * config.miniBatches, rows: prompts.count, seed: config.seed)
        settings = config
    }

    /// A sampled completion with what the update needs.
    struct Rollout {
        var sequence: TokenSequence
        var advantage: Float
        var truncated: Bool
        var oldLogProbs: [Float] = []
        var referenceLogProbs: [Float] = []
    }

    public override func trainStep() throws -> Metrics {
        let start = DispatchTime.now()
        var rollouts: [Rollout] = []
        var rewards: [Float] = [], groupStds: [Float] = []
        // Seeds from (run seed, step), so a resumed run draws the same completions.
        let groups = try encoder.rollOut(data.next(config.promptsPerStep).map { prompts[$0] }, policy: policy, count: config.groupSize,
                                         options: config.sampling, seed: config.seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(step),
                                         reward: reward)
        for g in groups {
            rewards += g.rewards
            groupStds.append(Self.std(g.rewards))
            for (s, a) in zip(g.completions, Losses.groupAdvantages(g.rewards)) {
                rollouts.append(Rollout(sequence: TokenSequence(prompt: g.ids, images: g.images, completion: s.tokens),
                                        advantage: a, truncated: s.finishReason == .length))
            }
        }
        let sampled = DispatchTime.now()
        // π_old and π_ref on exactly the batches the update will use, so the first ratio is 1.
        let chunk = (rollouts.count + config.miniBatches - 1) / config.miniBatches
        withNoGrad {
            for start in stride(from: 0, to: rollouts.count, by: chunk) {
                let range = start..<Swift.min(start + chunk, rollouts.count)
                let batch = SequenceBatch(rollouts[range].map(\.sequence), model: policy)
                let old = batch.perRow(policy.completionScores(batch).logProbs.scalars)
                let ref = reference.map { batch.perRow($0.completionScores(batch).logProbs.scalars) }
                for (k, i) in range.enumerated() {
                    rollouts[i].oldLogProbs = old[k]
                    rollouts[i].referenceLogProbs = ref?[k] ?? []
                }
            }
        }
        var losses: [Float] = [], kls: [Float] = [], clipFractions: [Float] = [], entropies: [Float] = []
        var gradNorm: Float = 0, lr: Float = 0
        for epoch in 0..<config.epochs {
            let order = updateOrder(rollouts.count, epoch: epoch, seed: config.seed)
            for start in stride(from: 0, to: order.count, by: chunk) {
                let picked = order[start..<Swift.min(start + chunk, order.count)].map { rollouts[$0] }
                let r = update(picked, details: epoch == 0)
                losses.append(r.loss); clipFractions.append(r.clipFraction)
                if epoch == 0 { kls.append(r.kl); entropies.append(r.entropy) }
                (gradNorm, lr) = (r.gradNorm, r.learningRate)
            }
        }
        let lengths = rollouts.map { Double($0.sequence.completion.count) }
        let tokens = rollouts.reduce(0) { $0 + policy.expandImageTokens($1.sequence.prompt).count + $1.sequence.completion.count }
        func mean(_ x: [Float]) -> Double { x.isEmpty ? 0 : Double(x.reduce(0, +)) / Double(x.count) }
        let m: Metrics = ["time/rollout": seconds(start, sampled), "time/update": seconds(sampled, DispatchTime.now()), "loss": mean(losses), "reward": mean(rewards), "reward_std": mean(groupStds),
                "frac_reward_zero_std": Double(groupStds.filter { $0 == 0 }.count) / Double(groupStds.count),
                "kl": mean(kls), "clip_ratio": mean(clipFractions), "entropy": mean(entropies),
                "completion_length": lengths.reduce(0, +) / Double(lengths.count),
                "completion_length_min": lengths.min()!, "completion_length_max": lengths.max()!,
                "truncated_fraction": Double(rollouts.filter(\.truncated).count) / Double(rollouts.count),
                "grad_norm": Double(gradNorm), "learning_rate": Double(lr), "tokens": Double(tokens)]
        return m.merging(reward.takeMetrics()) { a, _ in a }
    }

    /// One optimizer update on a mini-batch of rollouts.
    func update(_ picked: [Rollout], details: Bool) -> (loss: Float, kl: Float, clipFraction: Float, entropy: Float, gradNorm: Float, learningRate: Float) {
        let batch = SequenceBatch(picked.map(\.sequence), model: policy)
        let scores = policy.completionScores(batch, details: details)
        var old: [Float] = [], advantages: [Float] = [], weights: [Float] = [], ref: [Float] = []
        for r in picked {
            let n = r.sequence.completion.count
            old += r.oldLogProbs
            ref += r.referenceLogProbs
            advantages += Array(repeating: r.advantage, count: n)
            weights += Array(repeating: config.maskTruncated && r.truncated ? 0 : 1, count: n)
        }
        let counted = weights.reduce(0, +)
        let (surrogate, clipFraction) = Losses.clippedSurrogate(logProbs: scores.logProbs, oldLogProbs: old, advantages: advantages, clip: config.clip)
        var perToken = surrogate
        var kl: Float = 0
        if reference != nil {
            let k = Losses.kl(logProbs: scores.logProbs, referenceLogProbs: ref, estimator: config.klEstimator)
            kl = zip(k.scalars, weights).map(*).reduce(0, +) / Swift.max(counted, 1)
            perToken = perToken + k * config.klCoefficient
        }
        // Token mean over the counted tokens; an all-masked batch contributes no gradient.
        let loss = (perToken * Tensor(weights, shape: [weights.count])).sum() * (1 / Swift.max(counted, 1))
        loss.backward()
        let g = applyGradients(loss: loss.item)
        let entropy = scores.entropy.isEmpty ? 0 : scores.entropy.reduce(0, +) / Float(scores.entropy.count)
        return (loss.item, kl, clipFraction, entropy, g.gradNorm, g.learningRate)
    }

    static func std(_ x: [Float]) -> Float {
        guard x.count > 1 else { return 0 }
        let m = x.reduce(0, +) / Float(x.count)
        return (x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Float(x.count - 1)).squareRoot()
    }
}
