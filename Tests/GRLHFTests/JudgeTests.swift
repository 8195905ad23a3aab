import Foundation
import Testing
@testable import GRLHF

@Suite struct ScoreParser {
    func parse(_ s: String) -> JudgeVerdict { JudgeVerdict(parsing: s) }

    @Test func edgeCases() {
        #expect(parse("Analysis: ok.\nScores: \\boxed{7, 3}") == .scores(7, 3))
        #expect(parse("\\boxed{ 7 ,3 }") == .scores(7, 3))                                       // spaces
        #expect(parse("\\boxed{-1.5, 2.25}") == .scores(-1.5, 2.25))                              // negative, decimal
        #expect(parse("\\boxed{1e1, +.5}") == .scores(10, 0.5))
        #expect(parse("\\boxed{1, 2} then \\boxed{9, 4}") == .scores(9, 4))                        // the last box
        #expect(parse("\\boxed{7,, 3,}") == .scores(7, 3))                                        // empty pieces skipped
        #expect(parse("no box here") == .failed(.noBox))
        #expect(parse("\\boxed{7, 3") == .failed(.unclosedBox))                                   // never closes
        #expect(parse("\\boxed 7, 3") == .failed(.unclosedBox))                                   // no brace
        #expect(parse("\\boxed{\\frac{1}{2}, 3}") == .failed(.notANumber))                        // nested braces matched
        #expect(parse("\\boxed{{7}, 3}") == .failed(.notANumber))
        #expect(parse("\\boxed{seven, 3}") == .failed(.notANumber))
        #expect(parse("\\boxed{0x10, 3}") == .failed(.notANumber))                                // Python's float() refuses hex
        #expect(parse("\\boxed{7}") == .failed(.wrongCount))
        #expect(parse("\\boxed{7, 3, 5}") == .failed(.wrongCount))
        #expect(parse("\\boxed{}") == .failed(.wrongCount))
        #expect(parse("\\boxed{inf, 3}") == .scores(.infinity, 3))
        if case let .scores(a, b) = parse("\\boxed{nan, 3}") { #expect(a.isNaN && b == 3) } else { Issue.record("nan parses as a float") }
    }

    /// acc_reward: 1 only when the preferred position scored strictly higher.
    @Test func accuracyTruthTable() {
        let cases: [(String, Int, Float)] = [
            ("\\boxed{8, 3}", 1, 1), ("\\boxed{8, 3}", 2, 0), ("\\boxed{3, 8}", 2, 1), ("\\boxed{3, 8}", 1, 0),
            ("\\boxed{5, 5}", 1, 0), ("\\boxed{5, 5}", 2, 0),                                      // ties
            ("\\boxed{nan, 3}", 1, 0), ("\\boxed{nan, 3}", 2, 0),
            ("no box", 1, 0), ("\\boxed{8}", 1, 0), ("\\boxed{8, x}", 1, 0), ("\\boxed{8, 3", 1, 0),
        ]
        for (text, preferred, reward) in cases {
            #expect(JudgeVerdict(parsing: text).accuracy(preferred: preferred) == reward, "\(text) preferring \(preferred)")
        }
    }
}

@Suite struct JudgePrompt {
    @Test func slotsAreFilledOnceAndPrinciplesAreAHint() throws {
        let t = JudgeTemplate.paper
        let m = t.render(question: "Q?", image: "<image>", response1: "says {response_2}", response2: "B", principles: nil)
        #expect(m.system == t.instruction)
        #expect(m.user.contains("<image>Q?\n") && m.user.contains("# Response 1: says {response_2}\n# Response 2: B\n"))
        #expect(m.user.hasSuffix("e.g., \\boxed{x, x} if there exists 2 responeses>."))
        let p = t.render(question: "Q?", image: "", response1: "A", response2: "B", principles: JudgeTemplate.alignAnythingPrinciples)
        #expect(p.user.hasSuffix("into account: instruction following, clarity, informativeness."))
        var user = t
        user.instructionPlacement = .user
        let u = user.render(question: "Q?", image: "", response1: "A", response2: "B")
        #expect(u.system == nil && u.user.hasPrefix(t.instruction + "\n#### Conversation Context ####"))
    }

    @Test func templatesLoadFromJSON() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grlhf-tpl-\(UInt32.random(in: 0 ... .max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(#"{"instruction": "Judge.", "body": "{question} | {response_1} | {response_2}", "instruction_placement": "user"}"#.utf8)
            .write(to: URL(fileURLWithPath: dir + "/t.json"))
        let t = try JudgeTemplate.load(contentsOf: dir + "/t.json")
        #expect(t.render(question: "q", image: "", response1: "a", response2: "b").user == "Judge.\nq | a | b")
        try Data(#"{"instruction": "Judge.", "body": "{question} only"}"#.utf8).write(to: URL(fileURLWithPath: dir + "/bad.json"))
        #expect(throws: GRLHFError.self) { _ = try JudgeTemplate.load(contentsOf: dir + "/bad.json") }
    }
}

/// A judge whose score is the response's true quality + Gaussian noise + a bonus for being
/// shown first.
final class MockJudge: PairwiseJudge {
    let quality: [String: Float]
    let noise: Float, positionBias: Float
    var rng = PCG32(seed: 11)
    var calls = 0
    var failEvery = 0

    init(quality: [String: Float], noise: Float = 0, positionBias: Float = 0) {
        self.quality = quality; self.noise = noise; self.positionBias = positionBias
    }

    func judge(_ comparisons: [Comparison]) throws -> [Judgment] {
        comparisons.map { c in
            calls += 1
            if failEvery > 0 && calls % failEvery == 0 { return Judgment(text: "no scores", verdict: .failed(.noBox), truncated: false) }
            let s1 = quality[c.response1]! + positionBias + noise * rng.nextNormal()
            let s2 = quality[c.response2]! + noise * rng.nextNormal()
            let text = "Scores: \\boxed{\(s1), \(s2)}"
            return Judgment(text: text, verdict: JudgeVerdict(parsing: text), truncated: false)
        }
    }
}

@Suite struct GroupedComparison {
    static let responses = ["a", "b", "c", "d", "e"]
    static let quality: [String: Float] = ["a": 2, "b": 4, "c": 6, "d": 8, "e": 9]

    @Test func bothOrdersCancelThePositionBiasAndCostNTimesNMinusOne() throws {
        let judge = MockJudge(quality: Self.quality, positionBias: 1)
        let both = GroupedComparisonReward(judge: judge)
        let r = try both.scores(question: "q", image: nil, responses: Self.responses).rewards
        #expect(judge.calls == 5 * 4)
        // Each response is first in half its comparisons: its mean is its quality + bias/2 plus,
        // for the rest, the mean of the others' qualities... only its own scores count: q + 0.5.
        #expect(zip(r, Self.responses).allSatisfy { abs($0 - (Self.quality[$1]! + 0.5)) < 1e-5 })
        var config = GroupedComparisonConfig()
        config.bothOrders = false
        let once = MockJudge(quality: Self.quality, positionBias: 1)
        let single = try GroupedComparisonReward(judge: once, config: config).scores(question: "q", image: nil, responses: Self.responses).rewards
        #expect(once.calls == 5 * 4 / 2)
        // One order: earlier responses are shown first more often, so the bias favours them.
        let bias = zip(single, Self.responses).map { $0 - Self.quality[$1]! }
        #expect(bias[0] == 1 && bias[4] == 0 && bias == bias.sorted(by: >))
        #expect(both.takeMetrics()["judge/calls"] == 20)
    }

    /// With a noisy judge, more comparisons (both orders) rank the responses closer to their true
    /// order, over many groups.
    @Test func rankingAccuracyRisesWithMoreComparisons() throws {
        func accuracy(bothOrders: Bool) throws -> Double {
            var config = GroupedComparisonConfig()
            config.bothOrders = bothOrders
            let reward = GroupedComparisonReward(judge: MockJudge(quality: Self.quality, noise: 3), config: config)
            var agree = 0, total = 0
            for _ in 0..<300 {
                let r = try reward.scores(question: "q", image: nil, responses: Self.responses).rewards
                for i in 0..<5 { for j in (i + 1)..<5 { agree += r[j] > r[i] ? 1 : 0; total += 1 } }
            }
            return Double(agree) / Double(total)
        }
        let (once, twice) = (try accuracy(bothOrders: false), try accuracy(bothOrders: true))
        #expect(twice > once + 0.02 && once > 0.6, "pairwise ranking accuracy \(once) with one order, \(twice) with both")
    }

    @Test func incompleteResponsesAndLoneResponses() throws {
        let judge = MockJudge(quality: Self.quality)
        let reward = GroupedComparisonReward(judge: judge)
        let r = try reward.scores(question: "q", image: nil, responses: Self.responses, complete: [true, false, true, false, true]).rewards
        #expect(judge.calls == 3 * 2 && r[1] == 0 && r[3] == 0 && r[0] == 2 && r[4] == 9)
        let lone = try reward.scores(question: "q", image: nil, responses: ["a", "b"], complete: [false, true]).rewards
        #expect(lone == [0, 5.5] && judge.calls == 6)
        let none = try reward.scores(question: "q", image: nil, responses: ["a"], complete: [false]).rewards
        #expect(none == [0] && judge.calls == 6)
    }

    @Test func parseFailuresAreDroppedOrNeutral() throws {
        let judge = MockJudge(quality: Self.quality)
        judge.failEvery = 2
        let dropped = GroupedComparisonReward(judge: judge)
        let r = try dropped.scores(question: "q", image: nil, responses: ["a", "e"]).rewards
        #expect(r == [2, 9])                                  // the second comparison failed and was dropped
        #expect(dropped.takeMetrics()["judge/parse_failure_rate"] == 0.5)
        var config = GroupedComparisonConfig()
        config.parseFailure = .neutral
        judge.calls = 0
        let neutral = try GroupedComparisonReward(judge: judge, config: config).scores(question: "q", image: nil, responses: ["a", "e"]).rewards
        let expected: [Float] = [3.75, 7.25]  // each has one real score and one neutral 5.5
        #expect(neutral == expected)
    }

    /// A score off the 1–10 scale is a malformed judgment, not a huge reward.
    @Test func scoresOffTheScaleCountAsParseFailures() throws {
        let judge = RuleJudge { $0 == "a" ? 900 : 3 }
        let reward = GroupedComparisonReward(judge: judge)
        #expect(try reward.scores(question: "q", image: nil, responses: ["a", "b", "c"]).rewards == [5.5, 3, 3])
        #expect(reward.takeMetrics()["judge/parse_failure_rate"] == Double(4) / 6)
        var any = GroupedComparisonConfig()
        any.scoreRange = nil
        #expect(try GroupedComparisonReward(judge: judge, config: any).scores(question: "q", image: nil, responses: ["a", "b"]).rewards == [900, 3])
    }

    @Test func everyAggregatorRanksATransitiveJudgeInOrder() throws {
        for aggregator in GroupedComparisonConfig.Aggregator.allCases {
            var config = GroupedComparisonConfig()
            config.aggregator = aggregator
            let r = try GroupedComparisonReward(judge: MockJudge(quality: Self.quality), config: config)
                .scores(question: "q", image: nil, responses: ["c", "a", "e", "b", "d"]).rewards
            let order = zip(["c", "a", "e", "b", "d"], r).sorted { $0.1 < $1.1 }.map(\.0)
            #expect(order == ["a", "b", "c", "d", "e"], "\(aggregator): \(r)")
            #expect(r.allSatisfy { $0 >= 1 && $0 <= 10 })
        }
    }
}

/// The generative judge on a tiny multimodal model: every comparison of a group decodes in one
/// batch, the shared instruction, image and question prefilled once, with the same outputs as
/// judging each alone.
@Suite struct GenerativeJudge {
    @Test func batchedJudgingMatchesJudgingAlone() throws {
        let tokenizer = BPETrainer.train(corpus: ["Score both answers.", "What shape is it?", "a red circle", "a blue square", "\\boxed{8, 3}"],
                                         vocabSize: 200, specialTokens: ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>"])
        let config = MultimodalModel.Config(
            text: DecoderLM.Config(vocabSize: tokenizer.vocabSize, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1, numAttentionHeads: 2),
            vision: VisionTransformer.Config(imageSize: 8, patchSize: 4, hiddenSize: 16, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 32),
            imageTokenIndex: try #require(tokenizer.id(for: "<image>")))
        let model = try MultimodalModel(config, seed: 4)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grlhf-judge-\(UInt32.random(in: 0 ... .max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try PNG.write(PNG.Image(width: 8, height: 8, channels: 3, pixels: (0..<192).map { UInt8($0 * 5 % 256) }), to: dir + "/x.png")
        let judge = try Judge(model: model, tokenizer: tokenizer, template: JudgeTemplate(instruction: "Score both answers.",
                                                                                        body: "{image}{question}\n1: {response_1}\n2: {response_2}"))
        judge.options = SamplingOptions(temperature: 0, maxNewTokens: 6)
        let responses = ["a red circle", "a blue square", "a <image> circle"]  // a smuggled placeholder is removed
        let comparisons = [(0, 1), (1, 0), (0, 2), (2, 1)].map {
            Comparison(question: "What shape is it?", image: dir + "/x.png", response1: responses[$0.0], response2: responses[$0.1])
        }
        let batched = try judge.judge(comparisons)
        for (c, j) in zip(comparisons, batched) {
            let alone = try judge.judge([c])[0]
            #expect(j.text == alone.text && j.verdict == alone.verdict)
        }
        #expect(judge.messages(comparisons[2]).user == "<image>What shape is it?\n1: a red circle\n2: a  circle")
        #expect(judge.messages(comparisons[0]).system == "Score both answers.")
        // Stage-1 prompts carry the label; swapping flips it.
        let pair = PreferenceExample(question: "What shape is it?", image: dir + "/x.png", response1: "a", response2: "b", preferred: 2)
        let prompts = judge.trainingPrompts([pair], swapAugment: true)
        #expect(prompts.map(\.groundTruth) == ["2", "1"] && prompts[1].question.hasSuffix("1: b\n2: a"))
        let sft = judge.sftExamples([pair])
        #expect(sft[0].response.hasSuffix("Scores: \\boxed{3, 8}") && sft[0].system == "Score both answers.")
    }
}

/// A judge scoring each response by a rule of its text (no position bias, no noise).
final class RuleJudge: PairwiseJudge {
    let score: (String) -> Float
    init(_ score: @escaping (String) -> Float) { self.score = score }
    func judge(_ comparisons: [Comparison]) throws -> [Judgment] {
        comparisons.map { c in
            let text = "\\boxed{\(score(c.response1)), \(score(c.response2))}"
            return Judgment(text: text, verdict: JudgeVerdict(parsing: text), truncated: false)
        }
    }
}

@Suite struct GroupedComparisonInGRPO {
    /// Stage 2 wiring: GRPO's rewards are the grouped-comparison means, n(n−1) judge calls per group.
    @Test func groupedComparisonFeedsGRPO() throws {
        let (policy, encoder) = try Toy.randomColorPolicy(seed: 8, steps: 40)  // answers end their turn
        let reward = GroupedComparisonReward(judge: RuleJudge { $0.contains("blue") ? 9 : 2 })
        var config = GRPOConfig()
        config.steps = 2; config.promptsPerStep = 2; config.groupSize = 4
        config.sampling = SamplingOptions(temperature: 1, maxNewTokens: 12)
        let trainer = try GRPOTrainer(policy: policy, encoder: encoder, prompts: Toy.prompts, reward: reward, config: config)
        try trainer.train()
        for m in trainer.history {
            #expect(m["loss"]!.isFinite && m["judge/parse_failure_rate"] == 0 && m["truncated_fraction"] == 0)
            #expect(m["judge/calls_per_group"] == 12 && m["judge/calls"] == 24)                 // n(n−1), both orders
            // Each reward is a mean of one response's own scores: 9 (names blue) or 2.
            let blue = (m["reward"]! * 8 - 16) / 7
            #expect(abs(blue - blue.rounded()) < 1e-4 && blue >= 0 && blue <= 8, "reward \(m["reward"]!)")
        }
    }
}
