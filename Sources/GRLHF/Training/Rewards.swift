import Foundation

/// The sampled responses to one prompt, as a reward function sees them.
public struct RolloutGroup: Sendable {
    public var prompt: PromptExample
    /// Each completion as text (special tokens dropped).
    public var completions: [String]
    public var tokens: [[Int32]]
    /// True where a completion hit the length limit instead of ending its turn.
    public var truncated: [Bool]

    public init(prompt: PromptExample, completions: [String], tokens: [[Int32]], truncated: [Bool]) {
        self.prompt = prompt; self.completions = completions; self.tokens = tokens; self.truncated = truncated
    }
}

/// Scores every completion of a group at once (a generative judge compares them with each
/// other; a pointwise reward scores each alone). One reward per completion.
public protocol RewardFunction: AnyObject {
    func rewards(for group: RolloutGroup) throws -> [Float]
    /// Every group of a rollout batch, in one call: what the trainers call, once per step. The
    /// default scores the groups one by one; a reward that works best on the whole batch (a
    /// Python function in TRL's convention) implements it.
    func rewards(for groups: [RolloutGroup]) throws -> [[Float]]
    /// What the reward counted since the last call (a judge's calls and parse failures), added
    /// to the trainer's step metrics.
    func takeMetrics() -> Metrics
}

extension RewardFunction {
    public func rewards(for groups: [RolloutGroup]) throws -> [[Float]] { try groups.map { try rewards(for: $0) } }
    public func takeMetrics() -> Metrics { [:] }
}

/// A reward that may not apply to some completions (TRL's reward functions return None for
/// them). Alone it scores those 0 (`rewards(for:)`); in a `CombinedReward` the others' weighted
/// sum stands for them, as TRL's `nansum` does.
public protocol PartialRewardFunction: RewardFunction {
    /// One reward per completion, nil where the reward does not apply.
    func partialRewards(for groups: [RolloutGroup]) throws -> [[Float?]]
}

extension RolloutGroup {
    /// Checks `rewards` against the group: one finite reward per completion. Errors name `source`,
    /// the prompt and the offending completion.
    public func check(_ rewards: [Float], from source: String) throws {
        guard rewards.count == completions.count else {
            throw GRLHFError.invalidArgument("\(source) returned \(rewards.count) rewards for the \(completions.count) completions of \"\(prompt.question.prefix(60))\"")
        }
        if let i = rewards.firstIndex(where: { !$0.isFinite }) {
            throw GRLHFError.invalidArgument("\(source) returned a non-finite reward (\(rewards[i])) for completion \(i) of \"\(prompt.question.prefix(60))\" (\"\(completions[i].prefix(60))\")")
        }
    }
}

/// A reward from a Swift closure over one completion: (prompt, completion text) → reward.
public final class PointwiseReward: RewardFunction {
    let score: (PromptExample, String) throws -> Float
    public init(_ score: @escaping (PromptExample, String) throws -> Float) { self.score = score }
    public func rewards(for group: RolloutGroup) throws -> [Float] {
        try group.completions.map { try score(group.prompt, $0) }
    }
}

/// A trained Bradley–Terry reward model as a reward function: each completion scored alone.
public final class RewardModelReward: RewardFunction {
    public let model: RewardModel
    let encoder: ChatEncoder
    public init(_ model: RewardModel, encoder: ChatEncoder) { self.model = model; self.encoder = encoder }
    public func rewards(for group: RolloutGroup) throws -> [Float] {
        try model.score(group.completions.map { (group.prompt.question, group.prompt.image, $0) }, encoder: encoder)
    }
}

/// A prompt's sampled completions with their rewards: what GRPO and PPO collect each step.
struct ScoredGroup {
    var prompt: PromptExample
    var ids: [Int32]
    var images: Tensor?
    var completions: [GeneratedSequence]
    var rewards: [Float]
}

extension ChatEncoder {
    /// Samples `count` completions of every prompt in one batch (ending at the end of turn, seeded
    /// by `seed` so a resumed run draws the same), then scores each group with `reward`.
    func rollOut(_ prompts: [PromptExample], policy: any CausalLM, count: Int, options: SamplingOptions, seed: UInt64,
                 reward: RewardFunction) throws -> [ScoredGroup] {
        var o = options
        o.stopTokens.insert(endOfTurn)
        o.seed = seed
        let encoded = try prompts.map { try prompt($0.question, image: $0.image, system: $0.system) }
        let sampled = policy.sample(prompts: encoded.map(\.ids), images: encoded.map(\.images), count: count, options: o)
        let groups = zip(prompts, sampled).map { prompt, group in
            RolloutGroup(prompt: prompt, completions: group.map { text($0.tokens) }, tokens: group.map(\.tokens),
                         truncated: group.map { $0.finishReason == .length })
        }
        let rewards = try reward.rewards(for: groups)  // the whole rollout batch in one call
        guard rewards.count == groups.count else {
            throw GRLHFError.invalidArgument("the reward function returned rewards for \(rewards.count) groups, the batch has \(groups.count)")
        }
        for (g, r) in zip(groups, rewards) { try g.check(r, from: "the reward function") }
        return zip(groups.indices, zip(encoded, sampled)).map { i, pair in
            ScoredGroup(prompt: prompts[i], ids: pair.0.ids, images: pair.0.images, completions: pair.1, rewards: rewards[i])
        }
    }
}

/// Passes `reward`'s scores through unchanged and watches them against ground truth: the share
/// of completions `truth` marks correct is reported as `ground_truth_accuracy`, so a policy that
/// climbs its reward while its answers get worse (reward hacking) shows in the metrics.
public final class GroundTruthWatch: RewardFunction {
    public let reward: RewardFunction
    let truth: RewardFunction
    private var correct: Float = 0, seen = 0

    public init(_ reward: RewardFunction, truth: RewardFunction) { self.reward = reward; self.truth = truth }

    public func rewards(for group: RolloutGroup) throws -> [Float] { try rewards(for: [group])[0] }

    public func rewards(for groups: [RolloutGroup]) throws -> [[Float]] {
        let hits = try truth.rewards(for: groups).joined()
        let r = try reward.rewards(for: groups)
        correct += hits.reduce(0, +); seen += hits.count
        return r
    }

    public func takeMetrics() -> Metrics {
        defer { correct = 0; seen = 0 }
        var m = reward.takeMetrics()
        if seen > 0 { m["ground_truth_accuracy"] = Double(correct) / Double(seen) }
        return m
    }
}
