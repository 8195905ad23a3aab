#!/usr/bin/env bash
# Side-by-side generation benchmark: grlhf vs transformers (PyTorch CPU, eager) on randomly
# initialized Llama-shaped models ("small" and "smollm2-135m"), 1 thread by default: prefill
# tokens/s (64-token prompt), single-stream greedy decode tokens/s (32 tokens, KV cache), and the
# aggregate tokens/s of a group of 8 continuations.   Usage: benchmarks/generation.sh [THREADS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash benchmarks/setup_torch_venv.sh >/dev/null
threads="${1:-1}"
cli=.build/release/grlhf-cli
[ -x "$cli" ] || swift build -c release --product grlhf-cli >/dev/null
mkdir -p runs/bench
out=runs/bench/generation.jsonl
: > "$out"
for shape in small smollm2-135m; do
    "$cli" bench --generation "$shape" --threads "$threads" --json >> "$out"
    .cache/bench-venv/bin/python benchmarks/generation_transformers.py --shape "$shape" --threads "$threads" 2>/dev/null >> "$out"
done
.cache/bench-venv/bin/python - "$out" <<'PY'
import json, sys
rows = {(r["impl"], r["model"]): r for r in map(json.loads, open(sys.argv[1]))}
print(f"{'model':>13} {'metric':>22} {'grlhf':>9} {'transformers':>13} {'ratio':>6}")
for model in ("small", "smollm2-135m"):
    g, t = rows[("grlhf", model)], rows[("transformers", model)]
    for key, name in (("prefill_tokens_per_s", "prefill tok/s"), ("decode_tokens_per_s", "decode tok/s"),
                      ("group_tokens_per_s", f"group of {g['group']} tok/s")):
        print(f"{model:>13} {name:>22} {g[key]:9.1f} {t[key]:13.1f} {g[key] / t[key]:6.2f}")
    print(f"{model:>13} {'group ÷ single (grlhf)':>22} {g['group_tokens_per_s'] / g['decode_tokens_per_s']:9.2f}")
PY
