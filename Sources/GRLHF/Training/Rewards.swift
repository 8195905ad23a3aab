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
