#!/usr/bin/env bash
# Smoke test of the training commands (sft, train-rm, dpo, rl, train-grm, judge) on a tiny model and tiny JSONL
# datasets written to a temporary directory:
#   Tests/cli/run.sh [GRLHF]        (default bin/grlhf; e.g. .build-cli/release/grlhf-cli)
# Checks exit codes, one metrics.jsonl line per step, that outputs load (grlhf info), that
# --resume continues a stopped run to the same losses as an uninterrupted one, LoRA outputs, an
# image row, and that bad input fails with a message naming file:line.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
grlhf="${1:-$root/bin/grlhf}"
grlhf="$(cd "$(dirname "$grlhf")" && pwd)/$(basename "$grlhf")"
[ -x "$grlhf" ] || { echo "no $grlhf; build it first" >&2; exit 1; }
fixture="$root/Tests/GRLHFTests/Fixtures/multimodal"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
start=$SECONDS

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
lines() { grep -c . "$1"; }
# The losses of a metrics.jsonl, one per line.
losses() { grep -o '"loss": [^,}]*' "$1"; }
# Runs grlhf, keeping its output in $tmp/log; fails with the output shown when it fails.
run() { "$grlhf" "$@" >log 2>&1 || { cat log; fail "grlhf $*"; }; }
# Expects grlhf to fail with a message containing $1.
refused() {
    local want="$1"; shift
    if "$grlhf" "$@" >log 2>&1; then cat log; fail "grlhf $* succeeded"; fi
    grep -qF -- "$want" log || { cat log; fail "grlhf $*: no \"$want\" in the error"; }
}

# A tiny text-only Llama on the fixture tokenizer (400 tokens + <image>).
cat >text.json <<'EOF'
{"model_type": "llama", "vocab_size": 401, "hidden_size": 32, "intermediate_size": 64,
 "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
 "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 256, "tie_word_embeddings": true}
EOF
tok="$fixture/tokenizer.json"
cat >sft.jsonl <<'EOF'
{"question": "What color is the sky?", "response": "The sky is blue."}
{"question": "What color is grass?", "response": "Grass is green."}

{"question": "What color is blood?", "response": "Blood is red."}
{"question": "What color is the sea?", "response": "The sea is blue."}
EOF
cat >pref.jsonl <<'EOF'
{"question": "What color is the sky?", "response_1": "The sky is blue.", "response_2": "The sky is red.", "preferred": 1}
{"question": "What color is grass?", "response_1": "Grass is blue.", "response_2": "Grass is green.", "preferred": 2}
{"question": "What color is blood?", "response_1": "Blood is red.", "response_2": "Blood is green.", "preferred": 1}
{"question": "What color is the sea?", "response_1": "The sea is red.", "response_2": "The sea is blue.", "preferred": 2}
EOF
cat >prompts.jsonl <<'EOF'
{"question": "What color is the sky?", "ground_truth": "blue"}
{"question": "What color is grass?", "ground_truth": "green"}
{"question": "What color is blood?", "ground_truth": "red"}
EOF

echo "== sft from random weights"
run sft --init-config text.json --tokenizer "$tok" --data sft.jsonl --out sft --steps 6 --batch-size 2 --lr 1e-2 --checkpoint-every 3
[ "$(lines sft/metrics.jsonl)" = 6 ] || fail "sft: $(lines sft/metrics.jsonl) metrics lines for 6 steps"
grep -q "sft: 6 steps" log && grep -q "tokens/s" log && grep -q "loss .*final" log || { cat log; fail "sft: no summary"; }
[ -f sft/loss.png ] && [ -f sft/tokenizer.json ] && [ "$(cat sft/checkpoints/latest)" = step-000006 ] || fail "sft: outputs missing"
run info sft
ok "sft: 6 steps, metrics, plot, checkpoints, model loads"

echo "== --stop-after and --resume give the uninterrupted run's losses"
common=(sft --model sft --data sft.jsonl --steps 4 --batch-size 2 --lr 1e-3 --seed 3)
run "${common[@]}" --out straight
run "${common[@]}" --out resumed --stop-after 2
grep -q "stopped at step 2 of 4" log || { cat log; fail "no stop notice"; }
[ "$(lines resumed/metrics.jsonl)" = 2 ] || fail "stopped run: $(lines resumed/metrics.jsonl) metrics lines"
echo '{"loss": 99, "step": 3}' >>resumed/metrics.jsonl  # a step logged after the last checkpoint
run "${common[@]}" --out resumed --resume
grep -q "resumed from .* at step 2 of 4" log || { cat log; fail "no resume notice"; }
[ "$(lines resumed/metrics.jsonl)" = 4 ] || fail "resumed run: $(lines resumed/metrics.jsonl) metrics lines"
[ "$(losses straight/metrics.jsonl)" = "$(losses resumed/metrics.jsonl)" ] || fail "resumed losses differ from the straight run's"
cmp -s straight/model.safetensors resumed/model.safetensors || fail "resumed weights differ"
ok "resume is exact"

echo "== train-rm (with --eval), then continued with LoRA"
run train-rm --model sft --data pref.jsonl --eval pref.jsonl --out rm --steps 3 --batch-size 2 --lr 1e-3
grep -q "held-out accuracy" log || { cat log; fail "train-rm: no held-out accuracy"; }
[ "$(lines rm/metrics.jsonl)" = 3 ] && [ -f rm/score.safetensors ] || fail "train-rm: outputs"
run info rm
run train-rm --model rm --data pref.jsonl --out rm-lora --steps 2 --batch-size 2 --lora-rank 2 --no-merge
[ -f rm-lora/adapter/adapter_model.safetensors ] && [ -f rm-lora/adapter/score.safetensors ] && [ ! -f rm-lora/model.safetensors ] \
    || fail "train-rm --no-merge: expected the adapter and head only"
ok "train-rm"

echo "== dpo with LoRA, merged"
run dpo --model sft --data pref.jsonl --out dpo --steps 3 --batch-size 2 --beta 0.2 --lr 1e-3 \
    --lora-rank 4 --lora-alpha 8 --lora-targets q_proj,v_proj,o_proj
[ "$(lines dpo/metrics.jsonl)" = 3 ] && [ -f dpo/adapter/adapter_config.json ] && grep -q "adapter merged" log || fail "dpo: outputs"
run info dpo
ok "dpo"

echo "== rl (grpo) with a rule reward and with the reward model"
run rl --model sft --data prompts.jsonl --out rl --steps 3 --group-size 4 --prompts-per-step 2 --epochs 2 --mini-batches 2 \
    --max-new-tokens 8 --reward contains-ground-truth --kl-estimator k1 --mask-truncated --checkpoint-every 1
[ "$(lines rl/metrics.jsonl)" = 3 ] && [ -f rl/reward.png ] && grep -q '"reward"' rl/metrics.jsonl || fail "rl: outputs"
grep -q "rl: 3 steps" log || { cat log; fail "rl: no summary"; }
run info rl
rl=(rl --model sft --data prompts.jsonl --out rl-rm --steps 2 --group-size 2 --prompts-per-step 2 --max-new-tokens 6
    --reward-model rm --lora-rank 2 --kl-coef 0)
run "${rl[@]}" --stop-after 1
run "${rl[@]}" --resume  # LoRA adapters come back from the checkpoint
grep -q "resumed from .* at step 1 of 2" log && [ "$(lines rl-rm/metrics.jsonl)" = 2 ] || { cat log; fail "rl with a reward model, resumed"; }
[ -f rl-rm/adapter/adapter_model.safetensors ] || fail "rl: no adapter"
run rl --algorithm ppo --model sft --data prompts.jsonl --out ppo --steps 2 --group-size 2 --prompts-per-step 2 \
    --max-new-tokens 6 --reward-model rm --checkpoint-every 1
grep -q '"value_loss"' ppo/metrics.jsonl && [ "$(lines ppo/metrics.jsonl)" = 2 ] || { cat log; fail "rl: ppo"; }
ok "rl"

echo "== the generative judge: train-grm (GRPO and --sft), judge, rl --judge"
echo '{"instruction": "Score.", "body": "{question}\n1: {response_1}\n2: {response_2}"}' >tpl.json
run train-grm --model sft --data pref.jsonl --eval pref.jsonl --out grm --template tpl.json --steps 2 --group-size 2 \
    --prompts-per-step 2 --max-new-tokens 8 --swap-augment --lr 1e-3
[ "$(lines grm/metrics.jsonl)" = 2 ] && grep -q '"judge/parse_failure_rate"' grm/metrics.jsonl || { cat log; fail "train-grm: metrics"; }
grep -q "held-out accuracy .* parse failures" log || { cat log; fail "train-grm: no held-out accuracy"; }
run info grm
run train-grm --model sft --data pref.jsonl --out grm-sft --template tpl.json --sft --steps 2 --prompts-per-step 2
grep -q '"mean_token_accuracy"' grm-sft/metrics.jsonl || { cat log; fail "train-grm --sft"; }
run judge --model grm --template tpl.json --max-tokens 6 --question "What color is the sky?" \
    --response-1 "The sky is blue." --response-2 "The sky is red."
grep -q "^scores: " log || { cat log; fail "judge: no scores line"; }
run judge --model grm --template tpl.json --max-tokens 6 --question "What color is the sky?" \
    --response blue --response red --response green --incomplete 1 --one-order --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["rewards"])==3 and d["rewards"][1]==0 and len(d["comparisons"])==1, d' log \
    || { cat log; fail "judge: group JSON"; }
run judge --model grm --template tpl.json --max-tokens 6 --pairs pref.jsonl
grep -q "accuracy .* parse failures .* on 4 pairs" log || { cat log; fail "judge --pairs"; }
run rl --model sft --data prompts.jsonl --out rl-judge --steps 2 --group-size 3 --prompts-per-step 1 --max-new-tokens 4 \
    --judge grm --judge-template tpl.json --judge-max-tokens 6 --one-order --aggregator borda --parse-failure neutral
grep -q '"judge/calls"' rl-judge/metrics.jsonl && [ "$(lines rl-judge/metrics.jsonl)" = 2 ] || { cat log; fail "rl --judge"; }
refused "--response-1 and --response-2 go together" judge --model grm --question q --response-1 a
# Several sources are summed with weights, each logged: the judge and a rule here.
run rl --model sft --data prompts.jsonl --out rl-mixed --steps 1 --group-size 3 --prompts-per-step 1 --max-new-tokens 4 \
    --judge grm --judge-template tpl.json --judge-max-tokens 6 --one-order --reward contains-ground-truth --reward-weights 1,0.5
grep -q '"rewards/judge"' rl-mixed/metrics.jsonl && grep -q '"rewards/contains-ground-truth"' rl-mixed/metrics.jsonl \
    && grep -q '"judge/calls"' rl-mixed/metrics.jsonl && grep -q "reward = 1.0 × judge + 0.5 × contains-ground-truth" log \
    || { cat log; fail "rl --judge with a rule, weighted"; }
ok "judge, train-grm, rl --judge (alone and weighted with a rule)"

echo "== sft on a multimodal model with an image row (path relative to the JSONL file)"
mkdir -p mm && cp "$root/Tests/GRLHFTests/Fixtures/png/rgb_filters.png" mm/pic.png
echo '{"question": "What is in the picture?", "image": "pic.png", "response": "Colored stripes."}' >mm/data.jsonl
run sft --init-config "$fixture/config.json" --tokenizer "$tok" --data mm/data.jsonl --out mm/out --steps 2 --batch-size 1
run info mm/out
ok "multimodal sft"

echo "== bad input is refused"
printf '%s\n' '{"question": "q", "response": "r"}' '{"question": "q", "response": ' >bad.jsonl
refused "bad.jsonl:2" sft --model sft --data bad.jsonl --out bad --steps 1
printf '%s\n' '{"question": "q", "response_1": "a", "response_2": "b", "preferred": 3}' >bad-pref.jsonl
refused "bad-pref.jsonl:1" dpo --model sft --data bad-pref.jsonl --out bad --steps 1
echo '{"question": "no answer here"}' >no-truth.jsonl
refused "has no ground_truth" rl --model sft --data no-truth.jsonl --out bad --steps 1 --reward contains-ground-truth
refused "give a reward" rl --model sft --data prompts.jsonl --out bad
refused "--reward-weights gives 3 weights for 2 reward sources" rl --model sft --data prompts.jsonl --out bad \
    --reward contains-ground-truth --reward-model rm --reward-weights 1,2,3
refused "no such rule" rl --model sft --data prompts.jsonl --out bad --reward nonsense
refused "--init-config needs --tokenizer" sft --init-config text.json --data sft.jsonl --out bad
ok "errors name the problem"

echo "all CLI training checks passed in $((SECONDS - start)) s"
