import Foundation

/// The paper's accuracy reward for judge rollouts (stage 1): 1 when the output's boxed scores
/// rank the preferred response (the prompt's ground truth, "1" or "2") strictly higher, else 0.
/// The criteria and analysis are never supervised.
public final class JudgeAccuracyReward: RewardFunction {
    private var outputs = 0, failures = 0, tokens = 0

    public init() {}

    public func rewards(for group: RolloutGroup) throws -> [Float] {
        guard let truth = group.prompt.groundTruth, let preferred = Int(truth), preferred == 1 || preferred == 2 else {
            throw GRLHFError.invalidArgument("judge training: ground truth must be \"1\" or \"2\", got \(group.prompt.groundTruth ?? "none")")
        }
        outputs += group.completions.count
        tokens += group.tokens.reduce(0) { $0 + $1.count }
        return group.completions.map { text in
            let verdict = JudgeVerdict(parsing: text)
            if verdict.scores == nil { failures += 1 }
            return verdict.accuracy(preferred: preferred)
        }
    }

    public func takeMetrics() -> Metrics {
        defer { outputs = 0; failures = 0; tokens = 0 }
        return ["judge/parse_failure_rate": outputs == 0 ? 0 : Double(failures) / Double(outputs),
                "judge/output_length": outputs == 0 ? 0 : Double(tokens) / Double(outputs)]
    }
}

extension Judge {
    /// Stage-1 prompts: each pair in the judge's template, its label as the ground truth. With
    /// `swapAugment`, every pair also appears with its responses swapped and the label flipped
    /// (an option: the paper does not say whether it was done).
    public func trainingPrompts(_ pairs: [PreferenceExample], swapAugment: Bool = false) -> [PromptExample] {
        (swapAugment ? pairs.flatMap { [$0, $0.swapped] } : pairs).map { pair in
            let m = messages(Comparison(question: pair.question, image: pair.image, response1: pair.response1, response2: pair.response2))
            return PromptExample(question: m.user, image: pair.image, groundTruth: String(pair.preferred), system: m.system)
        }
    }

    /// A GRPO trainer for stage 1 (paper.md §1a): `config` defaults to the paper's G = 8
    /// rollouts at temperature 1, KL 0.02 to the frozen starting judge, clip 0.2; the reward is
    /// the binary accuracy. Metrics add the parse-failure rate and the judge's output length.
    public func trainer(pairs: [PreferenceExample], swapAugment: Bool = false, config: GRPOConfig = Judge.stage1Config) throws -> GRPOTrainer {
        try GRPOTrainer(policy: model, encoder: encoder, prompts: trainingPrompts(pairs, swapAugment: swapAugment),
                        reward: JudgeAccuracyReward(), config: config)
    }

    /// The paper's stage-1 settings (Table 5), with a shorter output for small judges.
    public static var stage1Config: GRPOConfig {
        var c = GRPOConfig()
        c.groupSize = 8; c.clip = 0.2; c.klCoefficient = 0.02; c.klEstimator = .k3
        c.sampling = SamplingOptions(temperature: 1, maxNewTokens: 256)
        return c
    }

    /// Judgments of the GRM+SFT baseline: supervised targets whose scores come from the
    /// dataset — its per-response scores rescaled linearly from their range over `pairs` onto
    /// 1–10 and rounded, or, without them, `labelScores` for the preferred and the other
    /// response. The criteria and analysis lines are fixed text (`format` fills `{better}`,
    /// `{worse}`, `{preferred_response}`, `{response_1}`, `{response_2}`, `{verdict_1}` and
    /// `{verdict_2}` ("right" for the preferred response, else "wrong"), `{scores}`).
    public func sftExamples(_ pairs: [PreferenceExample], labelScores: (preferred: Float, other: Float) = (8, 3),
                            format: String = "Specific Criteria: correctness and relevance to the question (weight 1.0).\nAnalysis: Response {better} answers better than Response {worse}.\nScores: \\boxed{{scores}}") -> [SFTExample] {
        let all = pairs.flatMap { [$0.score1, $0.score2].compactMap { $0 } }
        let lo = all.min() ?? 0, hi = all.max() ?? 1
        func rescale(_ s: Float) -> Float { hi > lo ? (1 + 9 * (s - lo) / (hi - lo)).rounded() : 5.5 }
        return pairs.map { pair in
            let (s1, s2): (Float, Float)
            if let a = pair.score1, let b = pair.score2 {
                (s1, s2) = (rescale(a), rescale(b))
            } else {
                (s1, s2) = pair.preferred == 1 ? (labelScores.preferred, labelScores.other) : (labelScores.other, labelScores.preferred)
            }
            let number = { (x: Float) in x == x.rounded() ? String(Int(x)) : String(x) }
            let m = messages(Comparison(question: pair.question, image: pair.image, response1: pair.response1, response2: pair.response2))
            let target = JudgeTemplate.fill(format, ["better": String(pair.preferred), "worse": String(3 - pair.preferred),
                                                     "preferred_response": pair.chosen, "response_1": pair.response1, "response_2": pair.response2,
                                                     "verdict_1": pair.preferred == 1 ? "right" : "wrong", "verdict_2": pair.preferred == 2 ? "right" : "wrong",
                                                     "scores": "\(number(s1)), \(number(s2))"])
            return SFTExample(question: m.user, image: pair.image, response: target, system: m.system)
        }
    }
}
