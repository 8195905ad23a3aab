#!/usr/bin/env bash
# grlhf pipeline --quick on tiny JSONL sets about the fixture PNG: every stage runs, the summary
# has a finite accuracy for every reward model and policy, and a rerun resumes (skips finished
# stages).
# Asserts nothing about which model wins.      Tests/cli/pipeline_quick.sh [GRLHF]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
grlhf="${1:-$root/bin/grlhf}"
grlhf="$(cd "$(dirname "$grlhf")" && pwd)/$(basename "$grlhf")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
python3 - "$tmp" "$root/Tests/GRLHFTests/Fixtures/png/rgb_filters.png" <<'PY'
import json, random, sys
out, png = sys.argv[1], sys.argv[2]
r = random.Random(0)
colors = ["red", "green", "blue"]
def rows(n, negated=False):
    for _ in range(n):
        c = r.choice(colors)
        wrong = r.choice([x for x in colors if x != c])
        p = r.choice([1, 2])
        q = "what color is not the shape?" if negated else "what color is the shape?"
        yield q, c, wrong, p
def write(name, items):
    with open(f"{out}/{name}", "w") as f:
        for item in items: f.write(json.dumps(item) + "\n")
write("sft.jsonl", [{"question": q, "image": png, "response": f"The answer is {c}."} for q, c, _, _ in rows(24)])
pair = lambda q, c, w, p: {"question": q, "image": png, "response_1": f"The answer is {c if p == 1 else w}.",
                           "response_2": f"The answer is {w if p == 1 else c}.", "preferred": p}
write("prefs_train.jsonl", [pair(*x) for x in rows(24)])
write("prefs_test_id.jsonl", [pair(*x) for x in rows(8)])
write("prefs_test_ood.jsonl", [pair(*x) for x in rows(8, negated=True)])
prompt = lambda q, c, w, p: {"question": q, "image": png, "ground_truth": c}
write("prompts_train.jsonl", [prompt(*x) for x in rows(12)])
write("prompts_test.jsonl", [prompt(*x) for x in rows(8)])
write("prompts_test_ood.jsonl", [prompt(*x) for x in rows(8, negated=True)])
PY
"$grlhf" pipeline --quick --data "$tmp" --output "$tmp/out" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "pipeline --quick"; }
python3 - "$tmp/out/summary.json" <<'PY' || { cat "$tmp/log"; fail "summary"; }
import json, math, sys
s = json.load(open(sys.argv[1]))
models = s["rewardModels"]
assert set(models) == {"BT RM", "GRM (untrained)", "GRM+SFT", "GRM+RL"}, models
assert all(math.isfinite(v) and 0 <= v <= 1 for m in models.values() for v in m.values()), models
policies = s["policies"]
assert set(policies) == {"base (SFT)", "GRPO + BT RM", "GRPO + GRM", "GRPO + GRM+RL (grouped comparison)", "DPO"}, policies
assert all(math.isfinite(v) and 0 <= v <= 1 for p in policies.values() for v in p.values()), policies
scaling = s["scaling"]
assert sorted((p["n"], p["reward"]) for p in scaling) == [(n, r) for n in (2, 3) for r in sorted(["GRPO + BT RM", "GRPO + GRM+RL (grouped comparison)"])], scaling
assert all(math.isfinite(p["idGain"]) and math.isfinite(p["oodGain"]) for p in scaling), scaling
PY
stages="base rm-bt grm grm-sft grm-rl policy-grpo-bt policy-grpo-grm policy-grpo-grm-rl policy-dpo policy-grpo-bt-n2 policy-grpo-grm-rl-n2"
for stage in $stages; do
    [ -f "$tmp/out/$stage/stage.done" ] && [ -s "$tmp/out/$stage/metrics.jsonl" ] || fail "stage $stage did not finish"
done
"$grlhf" pipeline --quick --data "$tmp" --output "$tmp/out" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "pipeline rerun"; }
[ "$(grep -c 'done earlier' "$tmp/log")" = 11 ] || { cat "$tmp/log"; fail "a rerun should skip the 11 finished stages"; }
echo "ok   pipeline --quick: every stage ran, finite accuracies, a rerun resumes"
