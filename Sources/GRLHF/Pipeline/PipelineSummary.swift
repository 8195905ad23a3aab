import Foundation

/// Accuracy on one test set: overall and per answer type (the rows' `answer_type`, when present).
public struct SetAccuracy: Codable, Equatable, Sendable, CustomStringConvertible {
    public var overall: Float
    public var byType: [String: Float]

    /// Mean of `hits` (1 correct, 0 not), overall and per tag (untagged rows count overall only).
    public init(_ hits: [Float], tags: [String?]) {
        overall = hits.isEmpty ? .nan : hits.reduce(0, +) / Float(hits.count)
        var sums: [String: (Float, Int)] = [:]
        for (hit, tag) in zip(hits, tags) {
            guard let tag else { continue }
            sums[tag, default: (0, 0)].0 += hit
            sums[tag, default: (0, 0)].1 += 1
        }
        byType = sums.mapValues { $0.0 / Float($0.1) }
    }

    /// "ID accuracy 0.635 (color 0.9, ...)".
    public var description: String {
        String(format: "ID accuracy %.3f", overall) + (byType.isEmpty ? "" : " (" + byType.sorted { $0.key < $1.key }
            .map { "\($0.key) " + String(format: "%.3f", $0.value) }.joined(separator: ", ") + ")")
    }
}

/// Pairwise accuracy of a reward model on the in-distribution and out-of-distribution pairs,
/// and the share of judge outputs without a parseable `\boxed{s1, s2}` (0 for a BT RM).
public struct RewardModelResult: Codable, Equatable, Sendable, CustomStringConvertible {
    public var id: SetAccuracy
    public var ood: SetAccuracy
    public var parseFailures: Float

    public var description: String { id.description + String(format: ", OOD %.3f, parse failures %.3f", ood.overall, parseFailures) }
}

/// A policy's greedy answer accuracy on the ID and OOD test prompts.
public struct PolicyResult: Codable, Equatable, Sendable, CustomStringConvertible {
    public var id: SetAccuracy
    public var ood: SetAccuracy

    public var description: String { id.description + String(format: ", OOD %.3f", ood.overall) }
}

/// The policy's accuracy gain over the base with `n` responses per prompt and one reward.
public struct ScalingPoint: Codable, Equatable, Sendable {
    public var reward: String
    public var n: Int
    public var idGain: Float
    public var oodGain: Float
}

/// Reward-hacking watch for one RL policy: its training reward and the ground-truth accuracy of
/// the same rollouts, averaged over the first and the last quarter of training. Flagged when the
/// reward rose while ground-truth accuracy fell by more than 0.05.
public struct RewardWatch: Codable, Equatable, Sendable {
    public var policy: String
    public var rewardStart: Float
    public var rewardEnd: Float
    public var truthStart: Float
    public var truthEnd: Float
    public var flagged: Bool

    public init?(policy: String, reward: [Float], truth: [Float]) {
        guard reward.count >= 4, truth.count >= 4 else { return nil }
        func mean(_ xs: ArraySlice<Float>) -> Float { xs.reduce(0, +) / Float(xs.count) }
        let q = reward.count / 4, t = truth.count / 4
        self.policy = policy
        rewardStart = mean(reward.prefix(q)); rewardEnd = mean(reward.suffix(q))
        truthStart = mean(truth.prefix(t)); truthEnd = mean(truth.suffix(t))
        flagged = rewardEnd > rewardStart && truthEnd < truthStart - 0.05
    }
}

/// One of the paper's claims, checked against this run's numbers.
public struct Claim: Codable, Equatable, Sendable {
    public var claim: String
    public var reproduced: Bool
    public var evidence: String
}

/// A finished stage and the seconds it took (nil when an earlier run did it).
public struct StageTime: Codable, Equatable, Sendable {
    public var stage: String
    public var seconds: Double?
}

public struct PipelineSummary: Codable, Sendable {
    public var preset: String
    public var rewardModels: [String: RewardModelResult]
    public var policies: [String: PolicyResult]
    public var scaling: [ScalingPoint]
    public var rewardWatch: [RewardWatch]
    public var stages: [StageTime]
    public var idPairs: Int
    public var oodPairs: Int
    public var idPrompts: Int
    public var oodPrompts: Int

    public static let rewardModelOrder = ["BT RM", "GRM (untrained)", "GRM+SFT", "GRM+RL"]
    public static let policyOrder = ["base (SFT)", "GRPO + BT RM", "GRPO + GRM", "GRPO + GRM+RL (grouped comparison)", "DPO"]

    /// The policies in table order: the paper's, then any others (Python reward functions) by name.
    public var policyNames: [String] {
        Self.policyOrder.filter { policies[$0] != nil } + policies.keys.filter { !Self.policyOrder.contains($0) }.sorted()
    }

    /// The paper's orderings, each marked reproduced only when this run's margin exceeds twice
    /// the binomial standard error of the difference (a smaller win is noise at a few hundred
    /// test items, and is reported as such).
    public var claims: [Claim] {
        var out: [Claim] = []
        /// "a beats b" on `n` items: the margin and whether it clears 2 SE.
        func beats(_ a: Float, _ b: Float, n: Int) -> (Bool, String) {
            let se = (a * (1 - a) / Float(n) + b * (1 - b) / Float(n)).squareRoot()
            return (a - b > 2 * se, String(format: "%.3f vs %.3f, 2 SE %.3f", a, b, 2 * se))
        }
        func ood(_ name: String) -> Float? { rewardModels[name]?.ood.overall }
        if let rl = ood("GRM+RL"), let sft = ood("GRM+SFT"), let grm = ood("GRM (untrained)"), let bt = ood("BT RM") {
            let (overSFT, e1) = beats(rl, sft, n: oodPairs), (overGRM, e2) = beats(rl, grm, n: oodPairs)
            out.append(Claim(claim: "GRM+RL beats GRM+SFT and the untrained GRM on OOD pairs", reproduced: overSFT && overGRM,
                             evidence: "OOD accuracy " + e1 + "; " + e2))
            let (overBT, e3) = beats(rl, bt, n: oodPairs)
            out.append(Claim(claim: "GRM+RL beats the BT RM on OOD pairs", reproduced: overBT, evidence: "OOD accuracy " + e3))
        }
        if let rl = policies[Self.policyOrder[3]]?.id.overall, let bt = policies[Self.policyOrder[1]]?.id.overall {
            let (over, e) = beats(rl, bt, n: idPrompts)
            out.append(Claim(claim: "GRPO with the GRM+RL judge (grouped comparison) beats GRPO with the BT RM", reproduced: over,
                             evidence: "ID answer accuracy " + e))
        }
        let gains = scaling.filter { $0.reward == Self.policyOrder[3] }.sorted { $0.n < $1.n }
        if gains.count >= 2, let base = policies[Self.policyOrder[0]]?.id.overall {
            let rising = zip(gains, gains.dropFirst()).allSatisfy { $1.idGain > $0.idGain }
            let (clear, _) = beats(base + gains.last!.idGain, base + gains[0].idGain, n: idPrompts)
            out.append(Claim(claim: "the GRM+RL policy's gain rises with the responses per prompt n", reproduced: rising && clear,
                             evidence: gains.map { String(format: "n=%d %+.3f", $0.n, $0.idGain) }.joined(separator: ", ")
                                + (rising && !clear ? " (rising, within 2 SE)" : "")))
        }
        return out
    }

    /// The result tables as the terminal shows them.
    public var table: String {
        let types = Array(Set(rewardModels.values.flatMap { $0.id.byType.keys } + policies.values.flatMap { $0.id.byType.keys })).sorted()
        func cells(_ a: SetAccuracy) -> String { types.map { String(format: " %8.3f", a.byType[$0] ?? .nan) }.joined() }
        let typeHeader = types.map { String(repeating: " ", count: Swift.max(1, 9 - $0.count)) + $0 }.joined()
        var lines = ["\(idPairs) ID and \(oodPairs) OOD preference pairs, \(idPrompts) ID and \(oodPrompts) OOD test prompts (greedy); by-type columns are ID", "",
                     "reward model         ID acc   OOD acc  parse fail" + typeHeader]
        for name in Self.rewardModelOrder {
            guard let r = rewardModels[name] else { continue }
            lines.append(name.padding(toLength: 18, withPad: " ", startingAt: 0)
                         + String(format: " %7.3f   %7.3f  %10.3f", r.id.overall, r.ood.overall, r.parseFailures) + cells(r.id))
        }
        lines.append("")
        lines.append("policy                               ID acc   OOD acc" + typeHeader)
        for name in policyNames {
            let r = policies[name]!
            lines.append(name.padding(toLength: 36, withPad: " ", startingAt: 0)
                         + String(format: " %6.3f   %7.3f", r.id.overall, r.ood.overall) + cells(r.id))
        }
        lines.append("")
        lines.append("scaling: accuracy gain over the base (ID / OOD) by responses per prompt n")
        for p in scaling {
            lines.append(p.reward.padding(toLength: 36, withPad: " ", startingAt: 0) + String(format: " n=%d   %+.3f / %+.3f", p.n, p.idGain, p.oodGain))
        }
        lines.append("")
        lines.append("reward-hacking watch: training reward and ground-truth accuracy of the rollouts, first → last quarter")
        for w in rewardWatch {
            lines.append(w.policy.padding(toLength: 36, withPad: " ", startingAt: 0)
                         + String(format: " reward %.3f → %.3f   truth %.3f → %.3f", w.rewardStart, w.rewardEnd, w.truthStart, w.truthEnd)
                         + (w.flagged ? "   REWARD HACKING?" : ""))
        }
        lines.append("")
        lines.append("the paper's claims at this scale:")
        for c in claims { lines.append((c.reproduced ? "  reproduced:     " : "  not reproduced: ") + c.claim + " (" + c.evidence + ")") }
        return lines.joined(separator: "\n")
    }
}
