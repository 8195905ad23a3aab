#!/usr/bin/env bash
# Python reward functions in-process (grlhf rl --reward-fn), on a tiny random model, with the
# fixture module Tests/GRLHFPythonTests/Fixtures/rewards.py:
#   Tests/cli/python_reward.sh [GRLHF] [LIBGRLHF]     (defaults bin/grlhf, .build/release/libgrlhf.so)
# Checks GRPO (and a PPO step) driven by a verl-style and a TRL-style function, the weighted sum
# with a rule (each source logged), the GIL released between reward calls (a thread of the
# reward module keeps counting), that the embedded interpreter imports the numpy of `python3`,
# the error paths (traceback, bad value, NaN, wrong length, import failure; --reward-fn-on-error
# skip), that a run failing part-way keeps its last checkpoint and resumes, and that only the
# CLI, never libgrlhf.so, links libpython.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
grlhf="${1:-$root/bin/grlhf}"
grlhf="$(cd "$(dirname "$grlhf")" && pwd)/$(basename "$grlhf")"
lib="${2:-$root/.build/release/libgrlhf.so}"
[ -x "$grlhf" ] && [ -f "$lib" ] || { echo "no $grlhf or $lib; build first" >&2; exit 1; }
lib="$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")"
fx="$root/Tests/GRLHFPythonTests/Fixtures/rewards.py"
tok="$root/Tests/GRLHFTests/Fixtures/multimodal/tokenizer.json"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
start=$SECONDS

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
lines() { grep -c . "$1"; }
run() { "$grlhf" "$@" >log 2>&1 || { cat log; fail "grlhf $*"; }; }
refused() {
    local want="$1"; shift
    if "$grlhf" "$@" >log 2>&1; then cat log; fail "grlhf $* succeeded"; fi
    grep -qF -- "$want" log || { cat log; fail "grlhf $*: no \"$want\" in the error"; }
}
# A metric of every line of a metrics.jsonl, space-separated.
series() { python3 -c 'import json,sys; print(" ".join(str(json.loads(l).get(sys.argv[2])) for l in open(sys.argv[1]) if l.strip()))' "$1" "$2"; }

cat >text.json <<'EOF'
{"model_type": "llama", "vocab_size": 401, "hidden_size": 32, "intermediate_size": 64,
 "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
 "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 256, "tie_word_embeddings": true}
EOF
cat >prompts.jsonl <<'EOF'
{"question": "What color is the sky?", "ground_truth": "blue", "data_source": "colors", "extra_info": {"index": 0}}
{"question": "What color is grass?", "ground_truth": "green", "data_source": "colors", "extra_info": {"index": 1}}
{"question": "What color is blood?", "ground_truth": "red", "data_source": "colors", "extra_info": {"index": 2}}
EOF
base=(rl --init-config text.json --tokenizer "$tok" --data prompts.jsonl --group-size 4 --prompts-per-step 2 --max-new-tokens 8 --lr 1e-3)

echo "== libpython: linked by the CLI, never by libgrlhf.so"
cli_deps="$(ldd "$grlhf")" lib_deps="$(ldd "$lib")"
grep -q 'libpython3' <<<"$cli_deps" || fail "$grlhf does not link libpython"
if grep 'libpython' <<<"$lib_deps"; then fail "$lib links libpython"; fi
# Loaded into a Python process by ctypes, libgrlhf.so brings no second libpython.
python3 - "$lib" <<'EOF'
import ctypes, sys
before = {l.split()[-1] for l in open("/proc/self/maps") if "libpython" in l}
ctypes.CDLL(sys.argv[1])
after = {l.split()[-1] for l in open("/proc/self/maps") if "libpython" in l}
assert after == before, (before, after)
EOF
ok "libpython only in the CLI"

echo "== GRPO with a verl-style function (per completion): extra fields, dict metrics, the GIL between calls, numpy"
GRLHF_TEST_REPORT="$tmp/report.json" run "${base[@]}" --out verl --steps 4 --checkpoint-every 2 --reward-fn "$fx"
grep -q "rl: Python 3" log && grep -q "reward compute_score: .*rewards.py:compute_score, verl convention" log || { cat log; fail "no interpreter/function line"; }
[ "$(lines verl/metrics.jsonl)" = 4 ] && [ "$(cat verl/checkpoints/latest)" = step-000004 ] || { cat log; fail "verl: outputs"; }
grep -q '"rewards/compute_score/length"' verl/metrics.jsonl || fail "verl: the dict's other entries are not in the metrics"
# The fixture's thread ticks about once a millisecond. Between two steps (sampling and an
# update) it must have kept going; holding the GIL between calls would freeze it (0-1 ticks).
python3 - verl/metrics.jsonl <<'EOF' || { cat verl/metrics.jsonl; fail "the reward module's thread did not run between reward calls"; }
import json, sys
m = [json.loads(l) for l in open(sys.argv[1])]
gaps = [(b["rewards/compute_score/ticks"] - a["rewards/compute_score/ticks"], b["rewards/compute_score/clock_ms"] - a["rewards/compute_score/clock_ms"])
        for a, b in zip(m, m[1:])]
assert all(t >= 3 and t >= 0.2 * ms for t, ms in gaps), gaps
EOF
want="$(python3 -c 'import numpy; print(numpy.__file__)')"
got="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["numpy"])' report.json)"
[ "$want" = "$got" ] || fail "the embedded interpreter imported numpy from $got, python3 from $want"
ok "verl convention, ticks $(series verl/metrics.jsonl rewards/compute_score/ticks), numpy from $got"

echo "== a TRL-style function (per batch) plus a rule, weighted; and PPO"
run "${base[@]}" --out combined --steps 2 --reward-fn "$fx:length_reward" --reward names-ground-truth --reward-weights 0.5,2
grep -q "reward = 0.5 × length_reward + 2.0 × names-ground-truth" log || { cat log; fail "no combination line"; }
python3 - combined/metrics.jsonl <<'EOF' || { cat combined/metrics.jsonl; fail "the reward is not the weighted sum of the logged parts"; }
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    a, b = m["rewards/length_reward"], m["rewards/names-ground-truth"]
    assert a > 0 and "rewards/length_reward/std" in m, m
    assert abs(m["reward"] - (0.5 * a + 2 * b)) < 1e-4, m
EOF
# Weights go with the sources in command-line order, whatever the options' kinds.
run "${base[@]}" --out reversed --steps 1 --reward names-ground-truth --reward-fn="$fx:length_reward" --reward-weights 2,0.5
grep -q "reward = 2.0 × names-ground-truth + 0.5 × length_reward" log || { cat log; fail "weights not in command-line order"; }
python3 -c 'import json,sys; m=json.loads(open(sys.argv[1]).readline()); assert abs(m["reward"] - (2*m["rewards/names-ground-truth"] + 0.5*m["rewards/length_reward"])) < 1e-4, m' \
    reversed/metrics.jsonl || fail "reversed: the reward is not the weighted sum"
run "${base[@]}" --out ppo --algorithm ppo --steps 1 --group-size 2 --reward-fn "$fx:length_reward" --reward-fn-convention trl
grep -q '"value_loss"' ppo/metrics.jsonl || { cat log; fail "ppo with a Python reward"; }
ok "weighted sum logged per source; PPO"

echo "== GRLHF_PYTHON of another version: its packages are left out, with a note"
printf '%s\n' '#!/bin/sh' 'echo "[[3, 99], [\"/nonexistent/site-packages\"], \"/opt/python3.99\"]"' >python3.99 && chmod +x python3.99
printf '%s\n' 'import sys' 'def f(prompts, completions, **kw):' '    assert "/nonexistent/site-packages" not in sys.path' '    return [0.0] * len(completions)' >plain.py
GRLHF_PYTHON="$tmp/python3.99" run "${base[@]}" --out other-python --steps 1 --reward-fn plain.py:f
grep -q "note: /opt/python3.99 is Python 3.99, the embedded interpreter 3\.[0-9]*: its packages are not used" log || { cat log; fail "no note on the version mismatch"; }
ok "another version's packages left out"

echo "== errors"
refused "ValueError: no reward for" "${base[@]}" --out err --steps 1 --reward-fn "$fx:raises"
grep -q "raised an exception on sample 0 (prompt 0" log && grep -q "Traceback (most recent call last)" log && grep -q "in _helper" log \
    || { cat log; fail "no traceback"; }
refused "returned str 'high' for sample 0" "${base[@]}" --out err --steps 1 --reward-fn "$fx:not_a_number"
refused "rewards must be finite" "${base[@]}" --out err --steps 1 --reward-fn "$fx:returns_nan"
refused "returned 7 rewards for a batch of 8 completions" "${base[@]}" --out err --steps 1 --reward-fn "$fx:wrong_length"
refused "has no 'nope' (its functions:" "${base[@]}" --out err-nope --steps 1 --reward-fn "$fx:nope"
[ ! -e err-nope/metrics.jsonl ] || fail "a missing function was noticed only after training started"
echo 'import no_such_module_for_grlhf' >broken.py
refused "ModuleNotFoundError: No module named 'no_such_module_for_grlhf'" "${base[@]}" --out err --steps 1 --reward-fn broken.py:f
refused "cannot tell its calling convention" "${base[@]}" --out err --steps 1 --reward-fn "$fx:ambiguous"
refused "--reward-weights gives 1 weights for 2 reward sources" "${base[@]}" --out err --reward-fn "$fx" --reward names-ground-truth --reward-weights 1
refused "need --reward-fn" "${base[@]}" --out err --reward names-ground-truth --reward-fn-on-error skip
run "${base[@]}" --out skip --steps 2 --reward-fn "$fx:raises" --reward-fn-on-error skip
[ "$(series skip/metrics.jsonl rewards/raises/errors)" = "8.0 8.0" ] && [ "$(series skip/metrics.jsonl reward)" = "0.0 0.0" ] \
    || { cat skip/metrics.jsonl; fail "--reward-fn-on-error skip: rewards 0 and 8 errors per step expected"; }
ok "traceback, bad value, NaN, wrong length, import failure, skip"

echo "== a run that fails part-way keeps its checkpoint and resumes"
refused "RuntimeError: the third batch fails" "${base[@]}" --out partway --steps 4 --checkpoint-every 1 --reward-fn "$fx:fails_on_third_batch"
[ "$(cat partway/checkpoints/latest)" = step-000002 ] && [ "$(lines partway/metrics.jsonl)" = 2 ] \
    || { ls partway/checkpoints; fail "the failed run's checkpoints"; }
run "${base[@]}" --out partway --steps 4 --checkpoint-every 1 --reward-fn "$fx:fails_on_third_batch" --resume
grep -q "resumed from .* at step 2 of 4" log && [ "$(lines partway/metrics.jsonl)" = 4 ] || { cat log; fail "resume after the failure"; }
ok "checkpoint step-000002 kept, resumed to step 4"

echo "all Python reward checks passed in $((SECONDS - start)) s"
