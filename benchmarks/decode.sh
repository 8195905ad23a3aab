#!/usr/bin/env bash
# Side-by-side decode benchmark on real weights: SmolLM2-135M-Instruct in grlhf and in llama.cpp
# (llama-cpp-python, built by benchmarks/setup_llama_venv.sh), same machine, same thread count:
#   float32: both on a float32 copy of the GGUF (scripts/gguf_f32_copy.py; grlhf's float32 path)
#   Q4_1:    both on the Q4_1 file (grlhf: generate's --quantized kernels; llama.cpp: its own)
# Prefill tokens/s (64-token random prompt) and single-stream greedy decode tokens/s (32 tokens),
# rounds alternating the two implementations, best of each side.
#   Usage: benchmarks/decode.sh [THREADS] [ROUNDS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
threads="${1:-1}" rounds="${2:-3}"
bash scripts/fetch_models.sh
bash benchmarks/setup_llama_venv.sh
py=.cache/llama-venv/bin/python
q41=.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf f32=.cache/models/SmolLM2-135M-Instruct.F32.gguf
[ -f "$f32" ] || "$py" scripts/gguf_f32_copy.py "$q41" "$f32"
cli=.build/release/grlhf-cli
swift build -c release --product grlhf-cli >/dev/null
mkdir -p runs/bench
out=runs/bench/decode.jsonl
: > "$out"
for round in $(seq "$rounds"); do
    echo "round $round/$rounds" >&2
    "$cli" bench --generation "$f32" --group 0 --threads "$threads" --json | sed 's/^{/{"weights":"float32",/' >> "$out"
    "$py" benchmarks/decode_llamacpp.py --model "$f32" --threads "$threads" | sed 's/^{/{"weights":"float32",/' >> "$out"
    "$cli" bench --generation "$q41" --quantized --group 0 --threads "$threads" --json | sed 's/^{/{"weights":"Q4_1",/' >> "$out"
    "$py" benchmarks/decode_llamacpp.py --model "$q41" --threads "$threads" | sed 's/^{/{"weights":"Q4_1",/' >> "$out"
done
"$py" - "$out" "$threads" <<'PY'
import json, sys
best = {}
for r in map(json.loads, open(sys.argv[1])):
    for k in ("prefill_tokens_per_s", "decode_tokens_per_s"):
        key = (r["weights"], r["impl"], k)
        best[key] = max(best.get(key, 0), r[k])
print(f"SmolLM2-135M, {sys.argv[2]} thread(s), best of each side")
print(f"{'weights':>8} {'metric':>14} {'grlhf':>8} {'llama.cpp':>10} {'ratio':>6}")
for w in ("float32", "Q4_1"):
    for k, name in (("prefill_tokens_per_s", "prefill tok/s"), ("decode_tokens_per_s", "decode tok/s")):
        g, l = best[(w, "grlhf", k)], best[(w, "llama.cpp", k)]
        print(f"{w:>8} {name:>14} {g:8.1f} {l:10.1f} {g / l:6.2f}")
PY
