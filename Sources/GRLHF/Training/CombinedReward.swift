import Foundation

/// A weighted sum of several rewards (TRL's `reward_funcs` with `reward_weights`): a judge's
/// grouped comparison, a reward model, Python functions and rules together. Each component is
/// scored on the whole rollout batch; the metrics give each one's mean and standard deviation
/// before weighting as `rewards/<name>` and `rewards/<name>/std`, beside the components' own.
/// A component that does not apply to a completion (a `PartialRewardFunction`'s nil, TRL's
/// None) adds nothing to it and is left out of its statistics; a completion no component applies
/// to scores 0 and is counted in `rewards/none_applied`, as TRL warns.
public final class CombinedReward: RewardFunction {
    public struct Component {
        /// The name in metrics and error messages.
        public var name: String
        public var weight: Float
        public var reward: RewardFunction

        public init(name: String, weight: Float = 1, reward: RewardFunction) {
            self.name = name; self.weight = weight; self.reward = reward
        }
    }

    public let components: [Component]
    /// Per component: sum, sum of squares and count of its rewards since the last `takeMetrics`.
    private var stats: [(sum: Double, squares: Double, count: Int)]
    /// Completions no component applied to since the last `takeMetrics`.
    private var noneApplied = 0

    /// At least one component, distinct non-empty names, finite weights.
    public init(_ components: [Component]) throws {
        guard !components.isEmpty else { throw GRLHFError.invalidArgument("CombinedReward: no components") }
        if let c = components.first(where: { $0.name.isEmpty || !$0.weight.isFinite }) {
            throw GRLHFError.invalidArgument("CombinedReward: component \"\(c.name)\" needs a name and a finite weight (got \(c.weight))")
        }
        let names = components.map(\.name)
        if let twice = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            throw GRLHFError.invalidArgument("CombinedReward: two components are called \"\(twice)\"")
        }
        self.components = components
        stats = components.map { _ in (0, 0, 0) }
    }

    public func rewards(for group: RolloutGroup) throws -> [Float] { try rewards(for: [group])[0] }

    public func rewards(for groups: [RolloutGroup]) throws -> [[Float]] {
        var total = groups.map { [Float](repeating: 0, count: $0.completions.count) }
        var applied = groups.map { [Bool](repeating: false, count: $0.completions.count) }
        var step = stats.map { _ in (sum: 0.0, squares: 0.0, count: 0) }
        for (k, c) in components.enumerated() {
            let r = try (c.reward as? PartialRewardFunction)?.partialRewards(for: groups) ?? c.reward.rewards(for: groups).map { $0.map { $0 } }
            guard r.count == groups.count else {
                throw GRLHFError.invalidArgument("reward \"\(c.name)\" returned rewards for \(r.count) groups, the batch has \(groups.count)")
            }
            for (g, (group, rewards)) in zip(groups, r).enumerated() {
                try group.check(rewards.map { $0 ?? 0 }, from: "reward \"\(c.name)\"")
                for (i, x) in rewards.enumerated() {
                    guard let x else { continue }
                    total[g][i] += c.weight * x
                    applied[g][i] = true
                    step[k].sum += Double(x); step[k].squares += Double(x) * Double(x); step[k].count += 1
                }
            }
        }
        // Counted only once every component has scored the batch: a failed step leaves no trace.
        for k in stats.indices {
            stats[k].sum += step[k].sum; stats[k].squares += step[k].squares; stats[k].count += step[k].count
        }
        noneApplied += applied.joined().filter { !$0 }.count
        return total
    }

    public func takeMetrics() -> Metrics {
        var m: Metrics = [:]
        for (c, s) in zip(components, stats) {
            m.merge(c.reward.takeMetrics()) { a, _ in a }
            guard s.count > 0 else { continue }
            let mean = s.sum / Double(s.count)
            m["rewards/\(c.name)"] = mean
            m["rewards/\(c.name)/std"] = s.count > 1 ? (Swift.max(0, s.squares - Double(s.count) * mean * mean) / Double(s.count - 1)).squareRoot() : 0
        }
        if components.contains(where: { $0.reward is PartialRewardFunction }) { m["rewards/none_applied"] = Double(noneApplied) }
        stats = components.map { _ in (0, 0, 0) }
        noneApplied = 0
        return m
    }
}
