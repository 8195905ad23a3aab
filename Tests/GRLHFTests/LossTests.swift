import Foundation
import Testing
@testable import GRLHF

/// The training objectives against the float64 numpy re-implementation in Fixtures/rl
/// (make_rl_fixture.py): values and gradients.
@Suite struct LossParity {
    static let fixture: [String: Any] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/rl/losses.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }()

    static func section(_ name: String) -> [String: Any] { fixture[name] as! [String: Any] }
    static func floats(_ s: [String: Any], _ key: String) -> [Float] { (s[key] as! [Double]).map { Float($0) } }
    static func number(_ s: [String: Any], _ key: String) -> Float { Float(s[key] as! Double) }
    static func leaf(_ values: [Float]) -> Tensor {
        let t = Tensor(values, shape: [values.count])
        t.requiresGrad = true
        return t
    }
    static func close(_ a: [Float], _ b: [Float], _ tol: Float = 2e-5) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tol * Swift.max(1, abs($1)) }
    }

    @Test func bradleyTerry() throws {
        let s = Self.section("bt")
        let c = Self.leaf(Self.floats(s, "chosen")), r = Self.leaf(Self.floats(s, "rejected"))
        let loss = Losses.bradleyTerry(chosen: c, rejected: r, regularization: Self.number(s, "regularization"))
        #expect(abs(loss.item - Self.number(s, "loss")) < 1e-5)
        loss.backward()
        #expect(Self.close(c.grad!.scalars, Self.floats(s, "grad_chosen")))
        #expect(Self.close(r.grad!.scalars, Self.floats(s, "grad_rejected")))
    }

    @Test func dpo() throws {
        let s = Self.section("dpo")
        let pc = Self.leaf(Self.floats(s, "policy_chosen")), pr = Self.leaf(Self.floats(s, "policy_rejected"))
        let rc = Self.floats(s, "reference_chosen"), rr = Self.floats(s, "reference_rejected")
        let loss = Losses.dpo(policyChosen: pc, policyRejected: pr, referenceChosen: Tensor(rc, shape: [rc.count]),
                              referenceRejected: Tensor(rr, shape: [rr.count]), beta: Self.number(s, "beta"))
        #expect(abs(loss.item - Self.number(s, "loss")) < 1e-5)
        loss.backward()
        #expect(Self.close(pc.grad!.scalars, Self.floats(s, "grad_policy_chosen")))
        #expect(Self.close(pr.grad!.scalars, Self.floats(s, "grad_policy_rejected")))
    }

    @Test func logSigmoidIsStableAtTheExtremes() {
        let x = Self.leaf([-200, -30, 0, 30, 200])
        let y = Losses.logSigmoid(x)
        #expect(y.scalars.allSatisfy { $0.isFinite })
        #expect(abs(y.scalars[0] + 200) < 1e-3 && abs(y.scalars[2] + Float(M_LN2)) < 1e-6 && abs(y.scalars[4]) < 1e-6)
        y.sum().backward()  // d/dx log σ(x) = σ(−x)
        #expect(Self.close(x.grad!.scalars, [1, 1, 0.5, 0, 0], 1e-6))
    }

    @Test func groupAdvantages() {
        for case let g as [String: Any] in Self.fixture["advantages"] as! [Any] {
            let a = Losses.groupAdvantages(Self.floats(g, "rewards"))
            #expect(a.allSatisfy { $0.isFinite })
            #expect(Self.close(a, Self.floats(g, "advantages"), 1e-4))
        }
    }

    @Test func grpoTokenMeanLossWithClippingAndKL() {
        let s = Self.section("grpo")
        let logp = Self.leaf(Self.floats(s, "logprobs")), w = Self.floats(s, "weights")
        let (surrogate, clipFraction) = Losses.clippedSurrogate(logProbs: logp, oldLogProbs: Self.floats(s, "old"),
                                                                advantages: Self.floats(s, "advantages"), clip: Self.number(s, "clip"))
        #expect(Self.close(surrogate.scalars, Self.floats(s, "surrogate")))
        #expect(clipFraction == Self.number(s, "clip_fraction"))
        let k3 = Losses.kl(logProbs: logp, referenceLogProbs: Self.floats(s, "reference"), estimator: .k3)
        #expect(Self.close(k3.scalars, Self.floats(s, "k3")))
        let k1 = Losses.kl(logProbs: logp, referenceLogProbs: Self.floats(s, "reference"), estimator: .k1)
        #expect(Self.close(k1.scalars, Self.floats(s, "k1")))
        let loss = ((surrogate + k3 * Self.number(s, "kl_coefficient")) * Tensor(w, shape: [w.count])).sum() * (1 / w.reduce(0, +))
        #expect(abs(loss.item - Self.number(s, "loss")) < 1e-5)
        loss.backward()
        #expect(Self.close(logp.grad!.scalars, Self.floats(s, "grad"), 1e-4))
    }

    @Test func klIsZeroAgainstAnIdenticalReference() {
        let logp = Self.leaf([-1, -2.5, -0.1])
        for estimator in Losses.KLEstimator.allCases {
            #expect(Losses.kl(logProbs: logp, referenceLogProbs: logp.scalars, estimator: estimator).scalars == [0, 0, 0])
        }
    }

    @Test func ppoTokenRewards() {
        for case let t as [String: Any] in Self.fixture["token_rewards"] as! [Any] {
            let r = Losses.tokenRewards(score: Self.number(t, "score"), logProbs: Self.floats(t, "logprobs"),
                                        referenceLogProbs: Self.floats(t, "reference"),
                                        klCoefficient: Self.number(t, "kl_coefficient"), clip: Self.number(t, "clip"))
            #expect(Self.close(r, Self.floats(t, "rewards")))
        }
    }

    @Test func gaeAndClippedValueLoss() {
        let g = Self.section("gae")
        let (adv, ret) = Losses.gae(rewards: Self.floats(g, "rewards"), values: Self.floats(g, "values"),
                                    gamma: Self.number(g, "gamma"), lambda: Self.number(g, "lam"))
        #expect(Self.close(adv, Self.floats(g, "advantages")) && Self.close(ret, Self.floats(g, "returns")))
        let s = Self.section("value")
        let v = Self.leaf(Self.floats(s, "values"))
        let losses = Losses.clippedValueLoss(values: v, oldValues: Self.floats(s, "old_values"), returns: Self.floats(s, "returns"),
                                             clip: Self.number(s, "clip"))
        #expect(Self.close(losses.scalars, Self.floats(s, "losses")))
        losses.sum().backward()
        #expect(Self.close(v.grad!.scalars, Self.floats(s, "grad"), 1e-4))
    }
}
