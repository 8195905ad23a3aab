#!/usr/bin/env bash
# Stage 1 of Generative RLHF-V on a toy preference set, end to end through the CLI (release
# build, ~30 s on 2 cores): a tiny judge taught only the output format, whose scores ignore the
# answers (held-out accuracy 0.5), is trained with GRPO on the binary accuracy reward and must
# then rank the preferred answer higher on held-out pairs.
#   Tests/cli/judge_learns.sh [GRLHF]        (default bin/grlhf)
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
grlhf="${1:-$root/bin/grlhf}"
grlhf="$(cd "$(dirname "$grlhf")" && pwd)/$(basename "$grlhf")"
[ -x "$grlhf" ] || { echo "no $grlhf; build it first" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
start=$SECONDS
fail() { echo "FAIL: $*" >&2; exit 1; }
run() { "$grlhf" "$@" >log 2>&1 || { cat log; fail "grlhf $*"; }; }

cat >text.json <<'JSON'
{"model_type": "llama", "vocab_size": 401, "hidden_size": 32, "intermediate_size": 64,
 "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4, "head_dim": 8,
 "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 256, "tie_word_embeddings": true}
JSON
cat >tpl.json <<'JSON'
{"instruction": "Score both answers.", "body": "{image}{question}\n1: {response_1}\n2: {response_2}"}
JSON
# Pairs: a good and a bad answer in random order; the label says where the good one is.
python3 - <<'PY'
import json, random
def pairs(n, seed):
    r = random.Random(seed)
    for _ in range(n):
        p = r.choice([1, 2])
        a, b = ("good answer", "bad answer") if p == 1 else ("bad answer", "good answer")
        yield {"question": "Which answer is better?", "response_1": a, "response_2": b, "preferred": p}
with open("train.jsonl", "w") as f:
    for row in pairs(32, 3): f.write(json.dumps(row) + "\n")
with open("heldout.jsonl", "w") as f:
    for row in pairs(24, 2): f.write(json.dumps(row) + "\n")
# The format lesson: the judge's own prompt (system turn + rendered body), answered with boxed
# scores in the right order. Stopped early (40 steps), it has learned the format but not yet
# to look at the answers.
with open("format.jsonl", "w") as f:
    for row in pairs(16, 1):
        good_first = row["preferred"] == 1
        f.write(json.dumps({"system": "Score both answers.",
                            "question": f"Which answer is better?\n1: {row['response_1']}\n2: {row['response_2']}",
                            "response": "\\boxed{8, 3}" if good_first else "\\boxed{3, 8}"}) + "\n")
PY

constant=(--schedule constant --warmup-ratio 0 --weight-decay 0)
run sft --init-config text.json --tokenizer "$root/Tests/GRLHFTests/Fixtures/multimodal/tokenizer.json" --data format.jsonl \
    --out judge0 --steps 40 --batch-size 8 --lr 1e-2 "${constant[@]}" --seed 3
accuracy() { grep -o '"accuracy": *[0-9.]*' "$1" | grep -o '[0-9.]*$'; }
run judge --model judge0 --template tpl.json --max-tokens 16 --pairs heldout.jsonl --json
cp log before.json
run train-grm --model judge0 --template tpl.json --data train.jsonl --swap-augment --eval heldout.jsonl --out judge1 \
    --steps 200 --group-size 8 --prompts-per-step 4 --max-new-tokens 16 --lr 1e-3 "${constant[@]}" --seed 3
run judge --model judge1 --template tpl.json --max-tokens 16 --pairs heldout.jsonl --json
cp log after.json
before=$(accuracy before.json); after=$(accuracy after.json)
echo "held-out accuracy: untrained judge $before, after stage 1 $after ($((SECONDS - start)) s)"
python3 -c "import sys; b, a = map(float, sys.argv[1:]); sys.exit(0 if a >= b + 0.3 and a >= 0.9 else 1)" "$before" "$after" \
    || fail "stage 1 did not raise the judge's held-out accuracy enough: $before -> $after"
echo "ok   stage 1 beats the untrained judge"
