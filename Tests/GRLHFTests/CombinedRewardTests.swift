import Foundation
import Testing
@testable import GRLHF

@Suite struct CombinedRewardTests {
    static func group(_ truth: String, _ completions: [String]) -> RolloutGroup {
        RolloutGroup(prompt: PromptExample(question: "What color is the sky?", groundTruth: truth), completions: completions,
                     tokens: completions.map { _ in [] }, truncated: completions.map { _ in false })
    }

    /// Counts its calls: batch calls (the whole rollout batch) and group calls.
    final class Counting: RewardFunction {
        var batches = 0
        let value: (String) -> Float
        init(_ value: @escaping (String) -> Float) { self.value = value }
        func rewards(for group: RolloutGroup) throws -> [Float] { group.completions.map(value) }
        func rewards(for groups: [RolloutGroup]) throws -> [[Float]] { batches += 1; return groups.map { $0.completions.map(value) } }
        func takeMetrics() -> Metrics { ["counting/batches": Double(batches)] }
    }

    @Test func theWeightedSumWithEachPartLogged() throws {
        let length = Counting { Float($0.count) }
        let combined = try CombinedReward([.init(name: "length", weight: 0.5, reward: length),
                                           .init(name: "names-ground-truth", weight: 2, reward: NamesGroundTruth())])
        let r = try combined.rewards(for: [Self.group("blue", ["blue", "red!"]), Self.group("red", ["red"])])
        let expected: [[Float]] = [[4, 2], [3.5]]   // 0.5 × length + 2 × named
        #expect(r == expected)
        #expect(length.batches == 1)   // one call for the whole batch
        let m = combined.takeMetrics()
        #expect(m["rewards/length"] == 11.0 / 3 && m["rewards/names-ground-truth"] == 2.0 / 3)
        #expect(abs(m["rewards/length/std"]! - (1.0 / 3).squareRoot()) < 1e-12)
        #expect(m["counting/batches"] == 1)   // the parts' own metrics pass through
        #expect(combined.takeMetrics()["rewards/length"] == nil)
    }

    @Test func aBadPartIsNamedAndAFailedBatchLeavesNoTrace() throws {
        let good = Counting { _ in 1 }
        let short = PointwiseReward { _, _ in .nan }
        let combined = try CombinedReward([.init(name: "good", reward: good), .init(name: "broken", reward: short)])
        #expect(throws: GRLHFError.invalidArgument("reward \"broken\" returned a non-finite reward (nan) for completion 0 of \"What color is the sky?\" (\"a\")")) {
            try combined.rewards(for: [Self.group("blue", ["a"])])
        }
        #expect(combined.takeMetrics()["rewards/good"] == nil)
        #expect(throws: GRLHFError.self) { try CombinedReward([]) }
        #expect(throws: GRLHFError.self) { try CombinedReward([.init(name: "a", reward: good), .init(name: "a", reward: good)]) }
        #expect(throws: GRLHFError.self) { try CombinedReward([.init(name: "a", weight: .infinity, reward: good)]) }
    }

    @Test func groundTruthWatchPassesTheWholeBatchOn() throws {
        let inner = Counting { _ in 1 }
        let watch = GroundTruthWatch(inner, truth: ContainsGroundTruth())
        #expect(try watch.rewards(for: [Self.group("blue", ["blue", "red"]), Self.group("red", ["red"])]) == [[1, 1], [1]])
        #expect(inner.batches == 1 && watch.takeMetrics()["ground_truth_accuracy"] == 2.0 / 3)
    }
}
