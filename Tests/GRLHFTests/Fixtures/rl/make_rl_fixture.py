"""Reference values for grlhf's training objectives (Sources/GRLHF/Training/Losses.swift),
computed independently in float64 numpy from the formulas of paper.md §1–2, with gradients by
central finite differences. Writes losses.json beside this script.

    python3 Tests/GRLHFTests/Fixtures/rl/make_rl_fixture.py
"""
import json
from pathlib import Path

import numpy as np

rng = np.random.default_rng(20251129)


def fd_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def log_sigmoid(x):
    return -np.logaddexp(0, -x)


out = {}

# Bradley-Terry: -mean log sigma(c - r) + reg * mean(c^2 + r^2)
c, r, reg = rng.normal(size=6), rng.normal(size=6), 1e-3
bt = lambda c, r: -np.mean(log_sigmoid(c - r)) + reg * np.mean(c**2 + r**2)
out["bt"] = dict(chosen=c.tolist(), rejected=r.tolist(), regularization=reg, loss=bt(c, r),
                 grad_chosen=fd_grad(lambda x: bt(x, r), c).tolist(), grad_rejected=fd_grad(lambda x: bt(c, x), r).tolist())

# DPO: -mean log sigma(beta((pc - rc) - (pr - rr))), sequence log-probs summed
pc, pr = rng.normal(-20, 3, size=5), rng.normal(-20, 3, size=5)
rc, rr = pc + rng.normal(0, 1, size=5), pr + rng.normal(0, 1, size=5)
beta = 0.1
dpo = lambda pc, pr: -np.mean(log_sigmoid(beta * ((pc - rc) - (pr - rr))))
out["dpo"] = dict(policy_chosen=pc.tolist(), policy_rejected=pr.tolist(), reference_chosen=rc.tolist(),
                  reference_rejected=rr.tolist(), beta=beta, loss=dpo(pc, pr),
                  grad_policy_chosen=fd_grad(lambda x: dpo(x, pr), pc).tolist(),
                  grad_policy_rejected=fd_grad(lambda x: dpo(pc, x), pr).tolist())

# GRPO advantages: (r - mean) / (unbiased std + 1e-6); a group of one keeps r
groups = [rng.normal(size=8), np.array([1.0, 1.0, 1.0, 1.0]), np.array([0.0, 1.0, 1.0, 0.0, 1.0]), np.array([0.7])]
def advantages(x):
    if len(x) == 1:
        return x
    return (x - x.mean()) / (x.std(ddof=1) + 1e-6)
out["advantages"] = [dict(rewards=g.tolist(), advantages=advantages(g).tolist()) for g in groups]

# GRPO token-mean loss: sum_t w_t (-min(rho A, clip(rho) A) + beta k3) / sum w, rho = exp(logp - old)
n, eps, kl_coef = 12, 0.2, 0.02
logp = rng.normal(-2, 0.5, size=n)
old = logp + rng.normal(0, 0.3, size=n)  # ratios spread across the clip range
ref = logp + rng.normal(0, 0.2, size=n)
adv = rng.normal(size=n)
w = (rng.random(n) > 0.2).astype(float)
def surrogate(lp):
    rho = np.exp(lp - old)
    return -np.minimum(rho * adv, np.clip(rho, 1 - eps, 1 + eps) * adv)
def k3(lp):
    d = ref - lp
    return np.exp(d) - d - 1
grpo = lambda lp: np.sum(w * (surrogate(lp) + kl_coef * k3(lp))) / np.sum(w)
rho = np.exp(logp - old)
clipped = (rho * adv > np.clip(rho, 1 - eps, 1 + eps) * adv)
out["grpo"] = dict(logprobs=logp.tolist(), old=old.tolist(), reference=ref.tolist(), advantages=adv.tolist(),
                   weights=w.tolist(), clip=eps, kl_coefficient=kl_coef, surrogate=surrogate(logp).tolist(),
                   k3=k3(logp).tolist(), k1=(logp - ref).tolist(), clip_fraction=float(clipped.mean()),
                   loss=grpo(logp), grad=fd_grad(grpo, logp).tolist())

# PPO per-token rewards: -beta (logp - ref) everywhere, the RM score added at the last token,
# then clamped to +-50 (align-anything add_kl_divergence_regularization)
tr = []
for score in (2.5, 70.0, -80.0):
    lp, rf = rng.normal(-2, 1, size=5), rng.normal(-2, 1, size=5)
    r = -0.02 * (lp - rf)
    r[-1] += score
    tr.append(dict(score=score, logprobs=lp.tolist(), reference=rf.tolist(), kl_coefficient=0.02, clip=50.0,
                   rewards=np.clip(r, -50, 50).tolist()))
out["token_rewards"] = tr

# PPO: GAE (gamma 1, lambda 0.95) and the clipped value loss 0.5 max((V-R)^2, (Vc-R)^2)
T = 7
rewards = np.zeros(T)
rewards[:-1] = -0.02 * rng.normal(size=T - 1)  # per-token KL penalties
rewards[-1] = 1.3                              # the reward-model score at the last token
values = rng.normal(size=T)
gamma, lam = 1.0, 0.95
adv_gae = np.zeros(T)
running = 0.0
for t in reversed(range(T)):
    nxt = values[t + 1] if t + 1 < T else 0.0
    delta = rewards[t] + gamma * nxt - values[t]
    running = delta + gamma * lam * running
    adv_gae[t] = running
out["gae"] = dict(rewards=rewards.tolist(), values=values.tolist(), gamma=gamma, lam=lam,
                  advantages=adv_gae.tolist(), returns=(adv_gae + values).tolist())

v_old = rng.normal(size=T)
v = v_old + rng.normal(0, 4, size=T)  # some beyond the value clip of 5... and most inside
returns = adv_gae + values
# Two tokens outside the clip range: one where the clipped (constant) branch is larger, so the
# gradient is zero, and one where the unclipped branch still wins.
v_old, v, returns = np.append(v_old, [0.0, 0.0]), np.append(v, [7.0, -7.0]), np.append(returns, [10.0, 10.0])
vclip = 5.0
def value_loss(v):
    vc = v_old + np.clip(v - v_old, -vclip, vclip)
    return 0.5 * np.maximum((v - returns) ** 2, (vc - returns) ** 2)
out["value"] = dict(values=v.tolist(), old_values=v_old.tolist(), returns=returns.tolist(), clip=vclip,
                    losses=value_loss(v).tolist(), grad=fd_grad(lambda x: value_loss(x).sum(), v).tolist())

Path(__file__).with_name("losses.json").write_text(json.dumps(out, indent=1) + "\n")
print("wrote losses.json")
