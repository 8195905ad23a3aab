import Foundation

public struct PPOConfig: Codable, Equatable, Sendable {
    /// Rollout batches.
    public var steps = 100
    public var promptsPerStep = 8
    /// Completions per prompt (1 is classic PPO; more share the prompt's prefill).
    public var completionsPerPrompt = 1
    public var epochs = 1
    public var miniBatches = 1
    /// ε of the policy's clipped surrogate.
    public var clip: Float = 0.2
    /// Clip of the critic's value change (Table 5 "clip range value").
    public var valueClip: Float = 5
    /// Per-token rewards are clamped to ±this (Table 5 "clip range score").
    public var rewardClip: Float = 50
    /// β of the per-token KL penalty in the reward.
    public var klCoefficient: Float = 0.02
    public var gamma: Float = 1
    public var lambda: Float = 0.95
    /// Normalize advantages over the rollout batch (align-anything does not).
    public var whitenAdvantages = false
    public var sampling = SamplingOptions(temperature: 1, maxNewTokens: 64)
    public var optimizer = OptimizerConfig(learningRate: 1e-6, warmupRatio: 0.03)
    /// The critic's own optimizer (Table 5: 5e-6, constant).
    public var criticOptimizer = OptimizerConfig(learningRate: 5e-6, warmupRatio: 0, schedule: .constant)
    public var seed: UInt64 = 0
    public init() {}
}

/// The PPO baseline (paper.md §2, align-anything `ppo.py`): completions scored by a reward
/// function (normally a Bradley–Terry reward model); per-token rewards −β·(log π_old − log π_ref)
/// with the score added at the last token, clamped; a critic (a value head on its own copy of a
/// model) gives values per token; GAE turns rewards and values into advantages and returns; the
/// policy takes the clipped surrogate, the critic the clipped value loss, each with its own AdamW.
public final class PPOTrainer: Trainer {
    public let policy: any CausalLM
    public let reference: any CausalLM
    /// Values come from `critic.head` at each position that predicts a completion token.
    public let critic: RewardModel
    public let config: PPOConfig
    public let reward: RewardFunction
    let encoder: ChatEncoder
    let prompts: [PromptExample]
    var criticGroup: ParameterGroup!

    /// - Parameters:
    ///   - critic: the value model (align-anything starts it from the reward model); by default a
    ///     trainable copy of the policy with a fresh head.
    ///   - reference: by default a frozen copy of the policy as it is now.
    public init(policy: any CausalLM, reference: (any CausalLM)? = nil, critic: RewardModel? = nil, encoder: ChatEncoder,
                prompts: [PromptExample], reward: RewardFunction, config: PPOConfig = PPOConfig()) throws {
        guard !prompts.isEmpty, config.steps > 0, config.promptsPerStep > 0, config.completionsPerPrompt > 0, config.epochs > 0,
              config.miniBatches > 0, config.miniBatches <= config.promptsPerStep * config.completionsPerPrompt,
              config.sampling.maxNewTokens > 0 else {
            throw GRLHFError.invalidArgument("PPO: no prompts, or a size below 1 (steps, prompts per step, completions, epochs, mini-batches, max new tokens)")
        }
        self.policy = policy
        self.reference = try reference ?? frozenCopy(policy)
        self.critic = try critic ?? RewardModel(base: trainableCopy(policy), seed: config.seed &+ 1)
        guard self.critic.base !== policy else { throw GRLHFError.invalidArgument("PPO: the critic must not share the policy's model") }
        self.config = config
        self.reward = reward
        self.encoder = encoder
        self.prompts = prompts
        let updates = config.epochs * config.miniBatches
        super.init(parameters: policy.trainableParameters(), optimizer: config.optimizer, totalSteps: config.steps,
                   updatesPerStep: updates, rows: prompts.count, seed: config.seed)
        settings = config
        criticGroup = addGroup("critic", parameters: self.critic.trainableParameters(), optimizer: config.criticOptimizer,
                               updatesPerStep: updates)
    }

    struct Rollout {
        var sequence: TokenSequence
        var score: Float
        var truncated: Bool
        var oldLogProbs: [Float] = []
        var oldValues: [Float] = []
        var advantages: [Float] = []
        var returns: [Float] = []
    }

    /// Values [N] at the positions that predict each completion token.
    func values(_ batch: SequenceBatch) -> Tensor {
        let hidden = critic.base.hiddenStates(batch.ids, batch: batch.batch, time: batch.time, images: batch.images)
        let rows = Tensor.embedding(hidden.reshape(batch.batch * batch.time, -1), ids: batch.predictingPositions)  // [N, H]
        return critic.head(rows.reshape(1, rows.shape[0], -1)).reshape(rows.shape[0])
    }

    public override func trainStep() throws -> Metrics {
        var rollouts: [Rollout] = []
        let groups = try encoder.rollOut(data.next(config.promptsPerStep).map { prompts[$0] }, policy: policy,
                                         count: config.completionsPerPrompt, options: config.sampling,
                                         seed: config.seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(step), reward: reward)
        for g in groups {
            for (s, score) in zip(g.completions, g.rewards) {
                rollouts.append(Rollout(sequence: TokenSequence(prompt: g.ids, images: g.images, completion: s.tokens), score: score,
                                        truncated: s.finishReason == .length))
            }
        }
        // π_old, π_ref and V_old on the update's own batches; then rewards, GAE, returns.
        let chunk = (rollouts.count + config.miniBatches - 1) / config.miniBatches
        var kls: [Float] = []
        withNoGrad {
            for start in stride(from: 0, to: rollouts.count, by: chunk) {
                let range = start..<Swift.min(start + chunk, rollouts.count)
                let batch = SequenceBatch(rollouts[range].map(\.sequence), model: policy)
                let old = batch.perRow(policy.completionScores(batch).logProbs.scalars)
                let ref = batch.perRow(reference.completionScores(batch).logProbs.scalars)
                let v = batch.perRow(values(batch).scalars)
                for (k, i) in range.enumerated() {
                    rollouts[i].oldLogProbs = old[k]
                    rollouts[i].oldValues = v[k]
                    kls += zip(old[k], ref[k]).map(-)
                    let r = Losses.tokenRewards(score: rollouts[i].score, logProbs: old[k], referenceLogProbs: ref[k],
                                                klCoefficient: config.klCoefficient, clip: config.rewardClip)
                    (rollouts[i].advantages, rollouts[i].returns) = Losses.gae(rewards: r, values: v[k], gamma: config.gamma, lambda: config.lambda)
                }
            }
        }
        if config.whitenAdvantages {
            let all = rollouts.flatMap(\.advantages)
            let mean = all.reduce(0, +) / Float(all.count)
            let std = (all.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(all.count)).squareRoot()
            for i in rollouts.indices { rollouts[i].advantages = rollouts[i].advantages.map { ($0 - mean) / (std + 1e-8) } }
        }
        var policyLosses: [Float] = [], valueLosses: [Float] = [], clipFractions: [Float] = [], entropies: [Float] = []
        var gradNorm: Float = 0, lr: Float = 0
        for epoch in 0..<config.epochs {
            let order = updateOrder(rollouts.count, epoch: epoch, seed: config.seed)
            for start in stride(from: 0, to: order.count, by: chunk) {
                let picked = order[start..<Swift.min(start + chunk, order.count)].map { rollouts[$0] }
                let batch = SequenceBatch(picked.map(\.sequence), model: policy)
                let n = Float(batch.targets.count)
                // Policy: the clipped surrogate, token mean.
                let scores = policy.completionScores(batch, details: epoch == 0)
                let (surrogate, clipFraction) = Losses.clippedSurrogate(logProbs: scores.logProbs, oldLogProbs: picked.flatMap(\.oldLogProbs),
                                                                        advantages: picked.flatMap(\.advantages), clip: config.clip)
                let policyLoss = surrogate.sum() * (1 / n)
                policyLoss.backward()
                (gradNorm, lr) = applyGradients(loss: policyLoss.item)
                // Critic: the clipped value loss, token mean.
                let valueLoss = Losses.clippedValueLoss(values: values(batch), oldValues: picked.flatMap(\.oldValues),
                                                        returns: picked.flatMap(\.returns), clip: config.valueClip).sum() * (1 / n)
                valueLoss.backward()
                applyGradients(loss: valueLoss.item, group: criticGroup)
                policyLosses.append(policyLoss.item); valueLosses.append(valueLoss.item); clipFractions.append(clipFraction)
                if epoch == 0 { entropies += scores.entropy }
            }
        }
        func mean(_ x: [Float]) -> Double { x.isEmpty ? 0 : Double(x.reduce(0, +)) / Double(x.count) }
        let lengths = rollouts.map { Double($0.sequence.completion.count) }
        let tokens = rollouts.reduce(0) { $0 + policy.expandImageTokens($1.sequence.prompt).count + $1.sequence.completion.count }
        let m: Metrics = ["loss": mean(policyLosses), "value_loss": mean(valueLosses), "reward": mean(rollouts.map(\.score)),
                "kl": mean(kls), "clip_ratio": mean(clipFractions), "entropy": mean(entropies),
                "returns": mean(rollouts.flatMap(\.returns)), "advantages": mean(rollouts.flatMap(\.advantages)),
                "completion_length": lengths.reduce(0, +) / Double(lengths.count),
                "completion_length_min": lengths.min()!, "completion_length_max": lengths.max()!,
                "truncated_fraction": Double(rollouts.filter(\.truncated).count) / Double(rollouts.count),
                "grad_norm": Double(gradNorm), "learning_rate": Double(lr), "tokens": Double(tokens)]
        return m.merging(reward.takeMetrics()) { a, _ in a }
    }
}
