import Foundation
import Testing
@testable import GRLHF

@Suite struct RuleRewardTests {
    static func group(_ truth: String?, _ completions: [String]) -> RolloutGroup {
        RolloutGroup(prompt: PromptExample(question: "What color is the sky?", groundTruth: truth), completions: completions,
                     tokens: completions.map { _ in [] }, truncated: completions.map { _ in false })
    }

    @Test func containsGroundTruthIgnoresCase() throws {
        let rule = try #require(RuleRewards.named("contains-ground-truth"))
        let r = try rule.rewards(for: Self.group("Blue", ["It is blue.", "BLUE", "It is red.", "", "blu e", "Bluegrass"]))
        #expect(r == [1, 1, 0, 0, 0, 1])
        #expect(try rule.rewards(for: Self.group("café", ["CAFÉ au lait"])) == [1])
    }

    @Test func namesGroundTruthMatchesWholeWordsAndNoOtherAnswer() throws {
        let rule = NamesGroundTruth(alternatives: ["yes", "no", "light blue"])
        #expect(try rule.rewards(for: Self.group("no", ["The answer is no.", "NO", "not really", "none", "yes and no", "no."])) == [1, 1, 0, 0, 0, 1])
        #expect(try rule.rewards(for: Self.group("light blue", ["It is light blue!", "light", "blue light"])) == [1, 0, 0])
        #expect(try RuleRewards.named("names-ground-truth")!.rewards(for: Self.group("blue", ["Bluegrass", "blue"])) == [0, 1])
    }

    @Test func rowsWithoutGroundTruthAreRefused() throws {
        let rule = ContainsGroundTruth()
        #expect(throws: GRLHFError.self) { try rule.rewards(for: Self.group(nil, ["blue"])) }
        #expect(throws: GRLHFError.self) { try rule.rewards(for: Self.group("", ["blue"])) }
        let rows = [PromptExample(question: "a", groundTruth: "x"), PromptExample(question: "b")]
        #expect(throws: GRLHFError.invalidArgument("contains-ground-truth: row 2 (\"b\") has no ground_truth")) { try rule.check(rows) }
        try rule.check(Array(rows.prefix(1)))
    }

    @Test func registryKnowsEachRuleByName() {
        #expect(RuleRewards.names == ["contains-ground-truth", "names-ground-truth"])
        #expect(RuleRewards.named("no-such-rule") == nil)
        for type in RuleRewards.all { #expect(RuleRewards.named(type.name).map { Swift.type(of: $0) == type } == true) }
    }
}
