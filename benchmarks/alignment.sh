#!/usr/bin/env bash
# Side-by-side trainer benchmark: one SFT step and one GRPO step (sampling a group of 8 per
# prompt, pi_old and reference forwards, one update) in grlhf and in PyTorch + transformers, on
# a randomly initialized Llama-shaped model ("small" by default), 1 thread by default.
#   Usage: benchmarks/alignment.sh [SHAPE] [THREADS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash benchmarks/setup_torch_venv.sh >/dev/null
shape="${1:-small}"
threads="${2:-1}"
cli=.build/release/grlhf-cli
[ -x "$cli" ] || swift build -c release --product grlhf-cli >/dev/null
mkdir -p runs/bench
out=runs/bench/alignment.jsonl
grlhf="$("$cli" bench --alignment "$shape" --threads "$threads" --json)"
torch="$(.cache/bench-venv/bin/python benchmarks/alignment_torch.py --grlhf "$grlhf" 2>/dev/null)"
printf '%s\n%s\n' "$grlhf" "$torch" > "$out"
.cache/bench-venv/bin/python - "$out" <<'PY'
import json, sys
g, t = map(json.loads, open(sys.argv[1]))
print(f"{g['model']}, {g['threads']} thread(s): SFT batch {g['sft_batch']}x{g['sft_length']} tokens; "
      f"GRPO {len(g['grpo_prompt_tokens'])} prompts x group {g['grpo_group']} x {g['grpo_new_tokens']} new tokens")
print(f"{'metric':>22} {'grlhf':>9} {'pytorch':>9} {'grlhf speed-up':>15}")
for key, name, faster in (("sft_ms_per_step", "SFT ms/step", "lower"), ("sft_tokens_per_s", "SFT tokens/s", "higher"),
                          ("grpo_ms_per_step", "GRPO ms/step", "lower"), ("grpo_rollout_ms", "GRPO rollout ms", "lower"),
                          ("grpo_tokens_per_s", "GRPO tokens/s", "higher")):
    ratio = g[key] / t[key] if faster == "higher" else t[key] / g[key]
    print(f"{name:>22} {g[key]:9.1f} {t[key]:9.1f} {ratio:15.2f}")
PY
