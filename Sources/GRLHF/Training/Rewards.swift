import Foundation

/// The sampled responses to one prompt, as a reward function sees them.
public struct RolloutGroup: Sendable {
    public var prompt: PromptExample
    /// Each completion as text (special tokens dropped).
    public var completions: [String]
    public var tokens: [[Int32]]
    /// True where a completion hit the length limit instead of ending its turn.
    public var truncated: [Bool]
}

/// Scores every completion of a group at once (a generative judge compares them with each
/// other; a pointwise reward scores each alone). One reward per completion.
public protocol RewardFunction: AnyObject {
    func rewards(for group: RolloutGroup) throws -> [Float]
    /// What the reward counted since the last call (a judge's calls and parse failures), added
    /// to the trainer's step metrics.
    func takeMetrics() -> Metrics
}

extension RewardFunction {
    public func takeMetrics() -> Metrics { [:] }
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
        return try zip(prompts, zip(encoded, sampled)).map { prompt, pair in
            let (encoded, group) = pair
            let r = try reward.rewards(for: RolloutGroup(prompt: prompt, completions: group.map { text($0.tokens) },
                                                         tokens: group.map(\.tokens), truncated: group.map { $0.finishReason == .length }))
            guard r.count == group.count, r.allSatisfy(\.isFinite) else {
                throw GRLHFError.invalidArgument("the reward function returned \(r.count) rewards for \(group.count) completions, or a non-finite one: \(r.prefix(8))")
            }
            return ScoredGroup(prompt: prompt, ids: encoded.ids, images: encoded.images, completions: group, rewards: r)
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

    public func rewards(for group: RolloutGroup) throws -> [Float] {
        let hits = try truth.rewards(for: group)
        correct += hits.reduce(0, +); seen += hits.count
        return try reward.rewards(for: group)
    }

    public func takeMetrics() -> Metrics {
        defer { correct = 0; seen = 0 }
        var m = reward.takeMetrics()
        if seen > 0 { m["ground_truth_accuracy"] = Double(correct) / Double(seen) }
        return m
    }
}
