import Foundation

/// Stage 2 of Generative RLHF-V (paper.md §1b): the n responses to one prompt are compared
/// pairwise by the judge, and each response's reward is its mean score over its comparisons,
/// S(y_i) = 1/(2(n−1)) Σ_{j≠i} [s(y_i | y_i, y_j) + s(y_i | y_j, y_i)].
public struct GroupedComparisonConfig: Codable, Equatable, Sendable {
    /// Judge every pair in both orders (n(n−1) calls; cancels position bias, the paper's formula),
    /// or once with the earlier response first (n(n−1)/2 calls, the paper's code snippet).
    public var bothOrders = true

    public enum ParseFailurePolicy: String, Codable, Sendable {
        /// Leave the comparison out (counted in `parse_failures`). Default.
        case drop
        /// Score both responses 5.5, the midpoint of the 1–10 scale.
        case neutral
    }
    public var parseFailure = ParseFailurePolicy.drop
    /// The judge's scale (the template asks for 1–10). A score outside it counts as a parse
    /// failure: the mean aggregator would otherwise let one "\boxed{900, 1}" outweigh every other
    /// comparison of the group (seen when a stage-1 judge met a drifting policy). nil: any score.
    public var scoreRange: ClosedRange<Float>? = 1...10

    public enum Aggregator: String, Codable, Sendable, CaseIterable {
        /// S(y_i): the mean of y_i's scores (the paper's method).
        case mean
        /// Σ_j P(i beats j), P from the comparisons (ties half).
        case borda
        /// Repeatedly drop the response with the fewest pairwise wins among those left; the later
        /// one drops, the higher it ranks (instant runoff on pairwise ballots, as Baldwin's method).
        case instantRunoff = "instant_runoff"
        /// Tideman: lock in pairwise victories by margin unless they close a cycle; rank by the
        /// locked graph.
        case rankedPairs = "ranked_pairs"
        /// The stationary distribution of a walk that moves from i to j in proportion to how
        /// often j beats i (Rank Centrality, with one pseudo-win and pseudo-loss per pair).
        case spectral
    }
    public var aggregator = Aggregator.mean
    /// Reward of the only complete response when a group has fewer than two (nothing to compare).
    public var loneResponseReward: Float = 5.5
    /// Reward of a truncated (incomplete) response, left out of the comparisons.
    public var incompleteReward: Float = 0

    public init() {}
}

/// The stage-2 reward: grouped comparison by a pairwise judge. All judge calls of a group go
/// to the judge in one batch.
public final class GroupedComparisonReward: RewardFunction {
    public let judge: PairwiseJudge
    public let config: GroupedComparisonConfig
    /// Judge calls, parse failures and groups since `takeMetrics`.
    private var calls = 0, failures = 0, groups = 0

    public init(judge: PairwiseJudge, config: GroupedComparisonConfig = GroupedComparisonConfig()) {
        self.judge = judge
        self.config = config
    }

    /// The ordered pairs (first shown as Response 1) a group of `n` is judged on.
    public func pairs(among valid: [Int]) -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        for (a, i) in valid.enumerated() {
            for j in valid[(a + 1)...] {
                out.append((i, j))
                if config.bothOrders { out.append((j, i)) }
            }
        }
        return out
    }

    public func rewards(for group: RolloutGroup) throws -> [Float] {
        try scores(question: group.prompt.question, image: group.prompt.image, responses: group.completions,
                   complete: group.truncated.map { !$0 }).rewards
    }

    /// Rewards of `responses` to one prompt, and every comparison made (indices into
    /// `responses`, the judgment).
    public func scores(question: String, image: String?, responses: [String], complete: [Bool]? = nil) throws
        -> (rewards: [Float], comparisons: [(first: Int, second: Int, judgment: Judgment)]) {
        let complete = complete ?? Array(repeating: true, count: responses.count)
        require(complete.count == responses.count, "GroupedComparisonReward: \(complete.count) flags for \(responses.count) responses")
        let valid = responses.indices.filter { complete[$0] }
        var rewards = responses.indices.map { complete[$0] ? config.loneResponseReward : config.incompleteReward }
        groups += 1
        guard valid.count >= 2 else { return (rewards, []) }
        let pairs = self.pairs(among: valid)
        let judgments = try judge.judge(pairs.map {
            Comparison(question: question, image: image, response1: responses[$0.0], response2: responses[$0.1])
        })
        guard judgments.count == pairs.count else {
            throw GRLHFError.invalidArgument("the judge returned \(judgments.count) judgments for \(pairs.count) comparisons")
        }
        calls += pairs.count
        // Each comparison's two scores, by response.
        var outcomes: [(i: Int, j: Int, si: Float, sj: Float)] = []
        for ((i, j), judgment) in zip(pairs, judgments) {
            if let (s1, s2) = judgment.verdict.scores, s1.isFinite, s2.isFinite,
               config.scoreRange.map({ $0.contains(s1) && $0.contains(s2) }) ?? true {
                outcomes.append((i, j, s1, s2))
            } else {
                failures += 1
                if config.parseFailure == .neutral { outcomes.append((i, j, 5.5, 5.5)) }
            }
        }
        let aggregated = Self.aggregate(outcomes, valid: valid, by: config.aggregator, fallback: config.loneResponseReward)
        for (k, i) in valid.enumerated() { rewards[i] = aggregated[k] }
        return (rewards, zip(pairs, judgments).map { ($0.0, $0.1, $1) })
    }

    public func takeMetrics() -> Metrics {
        defer { calls = 0; failures = 0; groups = 0 }
        return ["judge/calls": Double(calls), "judge/calls_per_group": groups == 0 ? 0 : Double(calls) / Double(groups),
                "judge/parse_failure_rate": calls == 0 ? 0 : Double(failures) / Double(calls)]
    }

    /// Rewards of the `valid` responses (in that order) from comparison outcomes. A response no
    /// comparison reached gets `fallback`; ranking aggregators map their scores linearly onto
    /// 1…10 (all equal: 5.5).
    static func aggregate(_ outcomes: [(i: Int, j: Int, si: Float, sj: Float)], valid: [Int],
                          by aggregator: GroupedComparisonConfig.Aggregator, fallback: Float) -> [Float] {
        let index = Dictionary(uniqueKeysWithValues: valid.enumerated().map { ($1, $0) })
        let n = valid.count
        if aggregator == .mean {
            var sum = [Float](repeating: 0, count: n), count = [Float](repeating: 0, count: n)
            for o in outcomes {
                sum[index[o.i]!] += o.si; count[index[o.i]!] += 1
                sum[index[o.j]!] += o.sj; count[index[o.j]!] += 1
            }
            return (0..<n).map { count[$0] > 0 ? sum[$0] / count[$0] : fallback }
        }
        // wins[a][b]: how often a scored above b (ties half); games[a][b]: comparisons of a and b.
        var wins = [[Float]](repeating: [Float](repeating: 0, count: n), count: n), games = wins
        for o in outcomes {
            let (a, b) = (index[o.i]!, index[o.j]!)
            let w: Float = o.si > o.sj ? 1 : o.si < o.sj ? 0 : 0.5
            wins[a][b] += w; wins[b][a] += 1 - w
            games[a][b] += 1; games[b][a] += 1
        }
        func p(_ a: Int, _ b: Int) -> Float { games[a][b] > 0 ? wins[a][b] / games[a][b] : 0.5 }
        var score = [Float](repeating: 0, count: n)
        switch aggregator {
        case .mean: break
        case .borda:
            score = (0..<n).map { a in (0..<n).filter { $0 != a }.map { p(a, $0) }.reduce(0, +) }
        case .instantRunoff:
            var left = Set(0..<n), round: Float = 0
            while !left.isEmpty {
                let tally = left.map { a in (a, left.filter { $0 != a }.map { p(a, $0) }.reduce(0, +)) }
                let fewest = tally.map(\.1).min()!
                for (a, t) in tally where t == fewest { score[a] = round; left.remove(a) }  // ties drop together
                round += 1
            }
        case .rankedPairs:
            var locked = [[Bool]](repeating: [Bool](repeating: false, count: n), count: n)
            func reaches(_ from: Int, _ to: Int) -> Bool {
                var seen = Set([from]), stack = [from]
                while let x = stack.popLast() {
                    if x == to { return true }
                    for y in 0..<n where locked[x][y] && !seen.contains(y) { seen.insert(y); stack.append(y) }
                }
                return false
            }
            let victories = (0..<n).flatMap { a in (0..<n).compactMap { b in p(a, b) > 0.5 ? (a, b, p(a, b)) : nil } }
                .sorted { ($0.2, -$0.0, -$0.1) > ($1.2, -$1.0, -$1.1) }
            for (a, b, _) in victories where !reaches(b, a) { locked[a][b] = true }
            // Rank by how many others each one reaches through locked victories.
            score = (0..<n).map { a in Float((0..<n).filter { $0 != a && reaches(a, $0) }.count) }
        case .spectral:
            // Walk: from a, move to b with probability p̃(b beats a)/n; stay otherwise. p̃ adds one
            // win and one loss to every pair, so an undefeated response does not absorb all mass.
            func smoothed(_ a: Int, _ b: Int) -> Float { (wins[a][b] + 1) / (games[a][b] + 2) }
            var pi = [Float](repeating: 1 / Float(n), count: n)
            for _ in 0..<200 {
                var next = [Float](repeating: 0, count: n)
                for a in 0..<n {
                    var stay: Float = 1
                    for b in 0..<n where b != a {
                        let move = smoothed(b, a) / Float(n)
                        next[b] += pi[a] * move; stay -= move
                    }
                    next[a] += pi[a] * stay
                }
                pi = next
            }
            score = pi
        }
        guard let lo = score.min(), let hi = score.max(), hi > lo else { return Array(repeating: 5.5, count: n) }
        return score.map { 1 + 9 * ($0 - lo) / (hi - lo) }
    }
}
