#!/usr/bin/env bash
# Side-by-side training-step benchmark: grlhf vs PyTorch (CPU eager) on the same GPT config
# (4 layers, d=256, 4 heads, T=128, batch 8, vocab 2048), at 1 and 2 threads, in one run.
# Each implementation runs ROUNDS times per thread count, alternating, and keeps its best
# median, so neither side is penalised by a noisy neighbour.   Usage: benchmarks/train_step.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash benchmarks/setup_torch_venv.sh >/dev/null
py=.cache/bench-venv/bin/python
cli=.build/release/grlhf-cli
[ -x "$cli" ] || swift build -c release --product grlhf-cli >/dev/null
rounds="${ROUNDS:-3}"
out="${OUT:-runs/bench}"
mkdir -p "$out"
: > "$out/train_step.jsonl"

for threads in 1 2; do
    for _ in $(seq "$rounds"); do
        "$cli" bench --threads "$threads" --steps 10 --json >> "$out/train_step.jsonl"
        "$py" benchmarks/gpt_torch.py --threads "$threads" --steps 10 --json >> "$out/train_step.jsonl"
    done
done

"$py" - "$out/train_step.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
best = {}
for r in rows:
    key = (r["impl"], r["threads"])
    if key not in best or r["ms_per_step"] < best[key]["ms_per_step"]:
        best[key] = r
print(f"{'threads':>7} {'grlhf ms':>9} {'torch ms':>9} {'grlhf tok/s':>12} {'torch tok/s':>12} {'ratio':>6} {'grlhf GFLOP/s':>14} {'% sgemm peak':>13}")
for t in sorted({k[1] for k in best}):
    g, p = best[("grlhf", t)], best[("pytorch", t)]
    print(f"{t:>7} {g['ms_per_step']:9.1f} {p['ms_per_step']:9.1f} {g['tokens_per_s']:12.0f} {p['tokens_per_s']:12.0f} "
          f"{g['tokens_per_s'] / p['tokens_per_s']:6.2f} {g['achieved_gflops']:14.1f} {100 * g['achieved_gflops'] / g['sgemm_peak_gflops']:12.0f}%")
print(f"ratio = grlhf tokens/s ÷ PyTorch tokens/s (best of each); BLAS: {best[('grlhf', 1)]['blas']}; torch {best[('pytorch', 1)].get('torch_version')}")
PY
