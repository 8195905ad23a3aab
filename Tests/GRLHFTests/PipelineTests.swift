import Foundation
import Testing
@testable import GRLHF

/// The pipeline's bookkeeping: accuracies by answer type, the reward-hacking watch, the claims
/// check and config files that name only what they change. (`Tests/cli/pipeline_quick.sh` runs
/// the whole pipeline.)
@Suite struct PipelineBookkeeping {
    @Test func accuracyByAnswerType() {
        let a = SetAccuracy([1, 0, 1, 1, 0], tags: ["color", "color", "yes/no", nil, "yes/no"])
        #expect(a.overall == 0.6)
        #expect(a.byType == ["color": 0.5, "yes/no": 0.5])
        #expect(SetAccuracy([], tags: []).overall.isNaN)
    }

    @Test func rewardWatchFlagsARisingRewardWithFallingTruth() throws {
        let rising: [Float] = [1, 1, 2, 2, 3, 3, 4, 4]
        let hacked = try #require(RewardWatch(policy: "p", reward: rising, truth: [0.8, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.3]))
        #expect(hacked.flagged && hacked.rewardStart == 1 && hacked.rewardEnd == 4 && hacked.truthEnd == 0.3)
        #expect(RewardWatch(policy: "p", reward: rising, truth: [0.3, 0.3, 0.4, 0.5, 0.6, 0.6, 0.7, 0.8])?.flagged == false)
        // Truth falling while the reward falls too is a bad run, not reward hacking.
        #expect(RewardWatch(policy: "p", reward: Array(rising.reversed()), truth: [0.8, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.3])?.flagged == false)
        #expect(RewardWatch(policy: "p", reward: [1, 2, 3], truth: [1, 1, 1]) == nil)
    }

    @Test func claimsFollowTheNumbers() {
        func rm(_ ood: Float) -> RewardModelResult {
            RewardModelResult(id: SetAccuracy([1], tags: [nil]), ood: SetAccuracy([ood], tags: [nil]), parseFailures: 0)
        }
        func policy(_ id: Float) -> PolicyResult { PolicyResult(id: SetAccuracy([id], tags: [nil]), ood: SetAccuracy([0], tags: [nil])) }
        let grmRL = PipelineSummary.policyOrder[3], bt = PipelineSummary.policyOrder[1]
        var s = PipelineSummary(preset: "t", rewardModels: ["BT RM": rm(0.6), "GRM (untrained)": rm(0.5), "GRM+SFT": rm(0.55), "GRM+RL": rm(0.7)],
                                policies: [PipelineSummary.policyOrder[0]: policy(0.5), bt: policy(0.5), grmRL: policy(0.75)],
                                scaling: [ScalingPoint(reward: grmRL, n: 3, idGain: 0.01, oodGain: 0), ScalingPoint(reward: grmRL, n: 5, idGain: 0.2, oodGain: 0)],
                                rewardWatch: [], stages: [], idPairs: 1000, oodPairs: 1000, idPrompts: 1000, oodPrompts: 1000)
        #expect(s.claims.count == 4 && s.claims.allSatisfy(\.reproduced))
        s.rewardModels["GRM+RL"] = rm(0.52)
        s.scaling[1].idGain = 0
        #expect(s.claims.map(\.reproduced) == [false, false, true, false])
        #expect(s.table.contains("not reproduced: GRM+RL beats the BT RM on OOD pairs (OOD accuracy 0.520 vs 0.600, 2 SE 0.044)"))
        // The same orderings on 200 items are within noise: a margin must clear 2 SE to count.
        s.rewardModels["GRM+RL"] = rm(0.63)
        s.oodPairs = 200
        #expect(!s.claims[1].reproduced && s.claims[1].evidence == "OOD accuracy 0.630 vs 0.600, 2 SE 0.097")
        s.scaling[1].idGain = 0.02
        #expect(!s.claims[3].reproduced && s.claims[3].evidence.hasSuffix("(rising, within 2 SE)"))
    }

    @Test func configFilesOverlayThePreset() throws {
        let c = try PipelineConfig.decode(Data(#"{"dpoSteps": 7, "judgeFormat": "Scores: \\boxed{{scores}}"}"#.utf8), over: .quick)
        var expected = PipelineConfig.quick
        expected.dpoSteps = 7; expected.judgeFormat = "Scores: \\boxed{{scores}}"
        #expect(c == expected)
        func refusal(_ json: String) -> String {
            do { _ = try PipelineConfig.decode(Data(json.utf8), over: .tiny); return "accepted" } catch { return "\(error)" }
        }
        #expect(refusal(#"{"dpoStep": 7}"#).contains("unknown pipeline config keys: dpoStep"))
        #expect(refusal(#"{"sftSteps": "many", "seed": 2}"#).contains("\"sftSteps\""))
        #expect(refusal("[1]").contains("not a JSON object"))
        #expect(refusal("{").contains("not valid JSON"))
    }
}
