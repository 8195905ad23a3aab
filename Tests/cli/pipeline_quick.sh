#!/usr/bin/env bash
# grlhf pipeline --quick on tiny JSONL sets about the fixture PNG: every stage runs, the summary
# has a finite accuracy (overall and per answer type) for every reward model and policy, the
# reward-hacking watch and stage times, report.html is self-contained with its charts, a partial
# --config overrides the preset (an unknown key is refused), a Python reward function named in the
# config trains one more policy (a missing file fails before any stage), a second run in the same
# output folder is refused while the first holds it, and a rerun resumes (skips finished stages).
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
                           "response_2": f"The answer is {w if p == 1 else c}.", "preferred": p, "answer_type": "color"}
write("prefs_train.jsonl", [pair(*x) for x in rows(24)])
write("prefs_test_id.jsonl", [pair(*x) for x in rows(8)])
write("prefs_test_ood.jsonl", [pair(*x) for x in rows(8, negated=True)])
prompt = lambda q, c, w, p: {"question": q, "image": png, "ground_truth": c, "answer_type": "color"}
write("prompts_train.jsonl", [prompt(*x) for x in rows(12)])
write("prompts_test.jsonl", [prompt(*x) for x in rows(8)])
write("prompts_test_ood.jsonl", [prompt(*x) for x in rows(8, negated=True)])
PY
cat >"$tmp/rewards.py" <<'PY'
def names_answer(data_source, solution_str, ground_truth, extra_info=None):
    return float(ground_truth.lower() in solution_str.lower())
PY
echo '{"dpoSteps": 3, "policySteps": 4, "rewardFunctions": ["'"$tmp"'/rewards.py:names_answer"]}' >"$tmp/config.json"
echo '{"dpoStep": 3}' >"$tmp/typo.json"
if "$grlhf" pipeline --quick --reward-fn "$tmp/missing.py" --data "$tmp" --output "$tmp/missing" >"$tmp/log" 2>&1; then fail "a missing reward file was accepted"; fi
grep -q "missing.py: no such file" "$tmp/log" || { cat "$tmp/log"; fail "the missing reward file is not named"; }
[ ! -e "$tmp/missing/base" ] || fail "a stage ran before the reward function was checked"
if "$grlhf" pipeline --quick --config "$tmp/typo.json" --data "$tmp" --output "$tmp/typo" >"$tmp/log" 2>&1; then fail "an unknown config key was accepted"; fi
grep -q "unknown pipeline config keys: dpoStep" "$tmp/log" || { cat "$tmp/log"; fail "the unknown key is not named"; }
python3 - "$grlhf" "$tmp" <<'PY' || fail "a second run in a busy output folder"
import fcntl, os, subprocess, sys
grlhf, tmp = sys.argv[1], sys.argv[2]
os.makedirs(f"{tmp}/busy")
with open(f"{tmp}/busy/pipeline.lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # as a running pipeline holds it
    r = subprocess.run([grlhf, "pipeline", "--quick", "--data", tmp, "--output", f"{tmp}/busy"], capture_output=True, text=True)
assert r.returncode != 0 and "another pipeline is running in" in r.stdout + r.stderr, r
assert not os.path.exists(f"{tmp}/busy/base"), "a stage ran beside the other pipeline"
PY
"$grlhf" pipeline --quick --config "$tmp/config.json" --data "$tmp" --output "$tmp/out" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "pipeline --quick"; }
python3 - "$tmp/out" <<'PY' || { cat "$tmp/log"; fail "summary"; }
import json, math, os, re, sys
out = sys.argv[1]
s = json.load(open(f"{out}/summary.json"))
config = json.load(open(f"{out}/config.json"))
assert config["dpoSteps"] == 3 and config["policySteps"] == 4 and config["name"] == "quick", config
def finite(a): return all(math.isfinite(v) and 0 <= v <= 1 for v in [a["overall"]] + list(a["byType"].values()))
models = s["rewardModels"]
assert set(models) == {"BT RM", "GRM (untrained)", "GRM+SFT", "GRM+RL"}, models
assert all(finite(m["id"]) and finite(m["ood"]) and list(m["id"]["byType"]) == ["color"] for m in models.values()), models
assert all(0 <= m["parseFailures"] <= 1 for m in models.values()), models
policies = s["policies"]
assert set(policies) == {"base (SFT)", "GRPO + BT RM", "GRPO + GRM", "GRPO + GRM+RL (grouped comparison)", "DPO", "GRPO + rewards.py:names_answer"}, policies
assert all(finite(p["id"]) and finite(p["ood"]) and list(p["id"]["byType"]) == ["color"] for p in policies.values()), policies
watch = s["rewardWatch"]
assert len(watch) == 4 and all(math.isfinite(w[k]) for w in watch for k in ("rewardStart", "rewardEnd", "truthStart", "truthEnd")), watch
assert all(0 <= w["truthStart"] <= 1 for w in watch), watch
assert len(s["stages"]) == 12 and all(t["seconds"] > 0 for t in s["stages"]), s["stages"]
html = open(f"{out}/report.html").read()
for heading in ("GRPO + rewards.py:names_answer", "claims", "Reward models", "Policies", "Scaling", "Reward-hacking watch", "Training curves"):
    assert heading in html, heading
assert not re.search(r'(src|href)="(http|//)', html), "the report loads something from the network"
images = re.findall(r'src="data:image/png;base64,', html)
assert len(images) >= 8 and len(images) == len(os.listdir(f"{out}/plots")), (len(images), os.listdir(f"{out}/plots"))
scaling = s["scaling"]
assert sorted((p["n"], p["reward"]) for p in scaling) == [(n, r) for n in (2, 3) for r in sorted(["GRPO + BT RM", "GRPO + GRM+RL (grouped comparison)"])], scaling
assert all(math.isfinite(p["idGain"]) and math.isfinite(p["oodGain"]) for p in scaling), scaling
PY
stages="base rm-bt grm grm-sft grm-rl policy-grpo-bt policy-grpo-grm policy-grpo-grm-rl policy-dpo policy-grpo-bt-n2 policy-grpo-grm-rl-n2 policy-grpo-fn-rewards-names-answer"
for stage in $stages; do
    [ -f "$tmp/out/$stage/stage.done" ] && [ -s "$tmp/out/$stage/metrics.jsonl" ] || fail "stage $stage did not finish"
done
"$grlhf" pipeline --quick --config "$tmp/config.json" --data "$tmp" --output "$tmp/out" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "pipeline rerun"; }
[ "$(grep -c 'done earlier' "$tmp/log")" = 12 ] || { cat "$tmp/log"; fail "a rerun should skip the 12 finished stages"; }
echo "ok   pipeline --quick: every stage ran (one with a Python reward), finite accuracies, watch, report, config override, a rerun resumes"
