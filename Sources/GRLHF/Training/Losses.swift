import Foundation

/// The objectives of the paper and its baselines (paper.md §1–2), as functions of tensors so
/// each can be checked against hand-computed values. Branches that depend on values (clipping,
/// the stable log-sigmoid) pick per element with constant masks; the gradient is then exactly
/// PyTorch's for `min`, `max` and `clamp`.
public enum Losses {
    /// log σ(x), stable for large |x|: −(max(−x, 0) + log(1 + e^{−|x|})).
    public static func logSigmoid(_ x: Tensor) -> Tensor {
        let negative = Tensor(x.scalars.map { $0 < 0 ? 1 : 0 }, shape: x.shape)   // where −x > 0
        let sign = Tensor(x.scalars.map { $0 < 0 ? -1 : 1 }, shape: x.shape)       // |x| = x·sign
        let softplusOfNegative = x * negative * -1 + ((x * sign * -1).exp() + 1).log()
        return softplusOfNegative * -1
    }

    /// Bradley–Terry reward-model loss: −mean log σ(r_w − r_l) + c·mean(r_w² + r_l²)
    /// (align-anything's `regularization`, default 1e-3). Scores [B].
    public static func bradleyTerry(chosen: Tensor, rejected: Tensor, regularization: Float = 1e-3) -> Tensor {
        let fit = logSigmoid(chosen - rejected).mean() * -1
        return regularization == 0 ? fit : fit + ((chosen * chosen) + (rejected * rejected)).mean() * regularization
    }

    /// DPO: −mean log σ(β[(log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l))]) with
    /// sequence log-probabilities summed over the response tokens. Inputs [B]; the reference
    /// terms are constants.
    public static func dpo(policyChosen: Tensor, policyRejected: Tensor, referenceChosen: Tensor,
                           referenceRejected: Tensor, beta: Float = 0.1) -> Tensor {
        let margin = (policyChosen - referenceChosen) - (policyRejected - referenceRejected)
        return logSigmoid(margin * beta).mean() * -1
    }

    /// GRPO's group-relative advantages (r − mean)/(std + 1e-6) with the unbiased std, as verl's
    /// `compute_grpo_outcome_advantage`; a group of one gets mean 0 and std 1 (advantage = r).
    public static func groupAdvantages(_ rewards: [Float], epsilon: Float = 1e-6) -> [Float] {
        guard rewards.count > 1 else { return rewards }
        let n = Float(rewards.count)
        let mean = rewards.reduce(0, +) / n
        let variance = rewards.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        return rewards.map { ($0 - mean) / (variance.squareRoot() + epsilon) }
    }

    /// The clipped surrogate per token: −min(ρA, clip(ρ, 1−ε, 1+ε)A) with ρ = exp(log π − log π_old).
    /// Returns the per-token losses [N] and the fraction of tokens on the clipped branch.
    public static func clippedSurrogate(logProbs: Tensor, oldLogProbs: [Float], advantages: [Float],
                                        clip: Float = 0.2) -> (losses: Tensor, clipFraction: Float) {
        let n = logProbs.count
        require(oldLogProbs.count == n && advantages.count == n, "clippedSurrogate: \(n) tokens, \(oldLogProbs.count) old, \(advantages.count) advantages")
        let ratio = (logProbs - Tensor(oldLogProbs, shape: logProbs.shape)).exp()
        var unclippedAdvantage = [Float](repeating: 0, count: n), clippedValue = [Float](repeating: 0, count: n)
        var clipped = 0
        for i in 0..<n {
            let r = ratio.data[i], a = advantages[i]
            let c = Swift.min(Swift.max(r, 1 - clip), 1 + clip)
            if r * a <= c * a { unclippedAdvantage[i] = a } else { clippedValue[i] = c * a; clipped += 1 }
        }
        let objective = ratio * Tensor(unclippedAdvantage, shape: ratio.shape) + Tensor(clippedValue, shape: ratio.shape)
        return (objective * -1, n == 0 ? 0 : Float(clipped) / Float(n))
    }

    public enum KLEstimator: String, Codable, Sendable, CaseIterable {
        /// log π − log π_ref (unbiased, can be negative per token).
        case k1
        /// e^{ref − logπ} − (ref − log π) − 1 (verl's "low_var_kl"): non-negative, low variance.
        case k3
    }

    /// Per-token KL(π‖π_ref) estimates [N] for sampled tokens; the reference is a constant.
    public static func kl(logProbs: Tensor, referenceLogProbs: [Float], estimator: KLEstimator = .k3) -> Tensor {
        let reference = Tensor(referenceLogProbs, shape: logProbs.shape)
        switch estimator {
        case .k1: return logProbs - reference
        case .k3:
            let d = reference - logProbs
            return d.exp() - d - 1
        }
    }

    /// PPO's per-token rewards of one completion (align-anything): −β(log π_old − log π_ref) at
    /// every token, the reward model's score added at the last, each clamped to ±clip.
    public static func tokenRewards(score: Float, logProbs: [Float], referenceLogProbs: [Float],
                                    klCoefficient: Float = 0.02, clip: Float = 50) -> [Float] {
        require(logProbs.count == referenceLogProbs.count && !logProbs.isEmpty, "tokenRewards: sizes differ or empty")
        var r = zip(logProbs, referenceLogProbs).map { -klCoefficient * ($0 - $1) }
        r[r.count - 1] += score
        return r.map { Swift.min(Swift.max($0, -clip), clip) }
    }

    /// Generalized advantage estimation over one sequence's per-token rewards and values:
    /// δ_t = r_t + γV_{t+1} − V_t (V after the last token is 0), A_t = δ_t + γλA_{t+1};
    /// returns are A + V (the critic's targets).
    public static func gae(rewards: [Float], values: [Float], gamma: Float = 1, lambda: Float = 0.95) -> (advantages: [Float], returns: [Float]) {
        require(rewards.count == values.count, "gae: \(rewards.count) rewards, \(values.count) values")
        var advantages = [Float](repeating: 0, count: rewards.count)
        var next: Float = 0, running: Float = 0
        for t in stride(from: rewards.count - 1, through: 0, by: -1) {
            let delta = rewards[t] + gamma * next - values[t]
            running = delta + gamma * lambda * running
            advantages[t] = running
            next = values[t]
        }
        return (advantages, zip(advantages, values).map(+))
    }

    /// PPO's clipped value loss per token: ½·max((V − R)², (V_clip − R)²) with
    /// V_clip = V_old + clamp(V − V_old, −c, c).
    public static func clippedValueLoss(values: Tensor, oldValues: [Float], returns: [Float], clip: Float = 5) -> Tensor {
        let n = values.count
        require(oldValues.count == n && returns.count == n, "clippedValueLoss: sizes differ")
        var unclipped = [Float](repeating: 0, count: n), constant = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let v = values.data[i], old = oldValues[i], r = returns[i]
            // Inside the clip range V_clip is V itself (compared as such: old + (V − old) may
            // round away from V); outside it is a constant, which wins only when it is larger.
            let vc = old + Swift.min(Swift.max(v - old, -clip), clip)
            if abs(v - old) <= clip || (v - r) * (v - r) >= (vc - r) * (vc - r) { unclipped[i] = 1 } else { constant[i] = (vc - r) * (vc - r) }
        }
        let d = values - Tensor(returns, shape: values.shape)
        return (d * d * Tensor(unclipped, shape: values.shape) + Tensor(constant, shape: values.shape)) * 0.5
    }
}
