import Foundation

/// A reward computed by a fixed rule from a completion and its prompt's row (verl's rule-based
/// rewards), picked by name (`grlhf rl --reward NAME`). A new rule is one class conforming to
/// this protocol and one entry in `RuleRewards.all`.
public protocol RuleReward: RewardFunction {
    /// The name the command line knows it by.
    static var name: String { get }
    /// One line for `--help`.
    static var summary: String { get }
    init()
    /// Checks that every row has what the rule reads, before any training starts.
    func check(_ prompts: [PromptExample]) throws
}

/// The built-in rule rewards.
public enum RuleRewards {
    public static let all: [any RuleReward.Type] = [ContainsGroundTruth.self, NamesGroundTruth.self]

    public static var names: [String] { all.map { $0.name } }

    /// The rule called `name`, or nil.
    public static func named(_ name: String) -> (any RuleReward)? {
        all.first { $0.name == name }.map { $0.init() }
    }
}

/// 1 when the completion contains the row's `ground_truth`, ignoring case; else 0.
public final class ContainsGroundTruth: RuleReward {
    public static let name = "contains-ground-truth"
    public static let summary = "1 when the completion contains the row's ground_truth, ignoring case; else 0"

    public init() {}

    public func check(_ prompts: [PromptExample]) throws {
        if let i = prompts.firstIndex(where: { ($0.groundTruth ?? "").isEmpty }) {
            throw GRLHFError.invalidArgument("\(Self.name): row \(i + 1) (\"\(prompts[i].question.prefix(60))\") has no ground_truth")
        }
    }

    public func rewards(for group: RolloutGroup) throws -> [Float] {
        try check([group.prompt])
        let truth = group.prompt.groundTruth!
        return group.completions.map { $0.range(of: truth, options: .caseInsensitive) != nil ? 1 : 0 }
    }
}

/// 1 when the completion names the row's `ground_truth` as a whole word and names no other of
/// `alternatives` (when given), ignoring case; else 0. Unlike `contains-ground-truth`, "no" does
/// not match "not", and "yes and no" is not an answer.
public final class NamesGroundTruth: RuleReward {
    public static let name = "names-ground-truth"
    public static let summary = "1 when the completion names the row's ground_truth as a whole word (and no other answer), ignoring case; else 0"
    /// Other answers whose mention makes a completion wrong (e.g. every answer of a closed set).
    public var alternatives: [String] = []

    public init() {}

    public convenience init(alternatives: [String]) {
        self.init()
        self.alternatives = alternatives.map { $0.lowercased() }
    }

    public func check(_ prompts: [PromptExample]) throws {
        if let i = prompts.firstIndex(where: { ($0.groundTruth ?? "").isEmpty }) {
            throw GRLHFError.invalidArgument("\(Self.name): row \(i + 1) (\"\(prompts[i].question.prefix(60))\") has no ground_truth")
        }
    }

    public func rewards(for group: RolloutGroup) throws -> [Float] {
        try check([group.prompt])
        return group.completions.map { score($0, truth: group.prompt.groundTruth!) }
    }

    public func score(_ completion: String, truth: String) -> Float {
        let words = Self.words(completion), t = truth.lowercased()
        func names(_ phrase: String) -> Bool {
            let p = Self.words(phrase)
            return !p.isEmpty && p.count <= words.count && (0...(words.count - p.count)).contains { Array(words[$0..<($0 + p.count)]) == p }
        }
        return names(t) && !alternatives.contains { $0 != t && names($0) } ? 1 : 0
    }

    static func words(_ text: String) -> [String] { text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init) }
}
