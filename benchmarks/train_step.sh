#!/usr/bin/env bash
# Side-by-side training-step benchmark: grlhf vs PyTorch (CPU eager) on the same GPT config
# (4 layers, d=256, 4 heads, T=128, batch 8, vocab 2048), at 1 and 2 threads, in one run.
# Each implementation runs ROUNDS times per thread count, alternating, 20 timed steps each. The
# table compares the best median of each side and, as a second estimate, the fastest single step
# (this VM's host is noisy: run-to-run medians move ±20 %).   Usage: benchmarks/train_step.sh
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
        "$cli" bench --threads "$threads" --steps 20 --json >> "$out/train_step.jsonl"
        "$py" benchmarks/gpt_torch.py --threads "$threads" --steps 20 --json >> "$out/train_step.jsonl"
    done
done

"$py" - "$out/train_step.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def best(impl, t, key):
    return min(r[key] for r in rows if r["impl"] == impl and r["threads"] == t)
g1 = next(r for r in rows if r["impl"] == "grlhf")
tokens = 8 * 128
print(f"{'threads':>7} {'grlhf ms':>9} {'torch ms':>9} {'ratio':>6} {'min: grlhf':>11} {'torch':>7} {'ratio':>6} {'grlhf GFLOP/s':>14} {'% sgemm peak':>13}")
for t in sorted({r["threads"] for r in rows}):
    gm, pm = best("grlhf", t, "ms_per_step"), best("pytorch", t, "ms_per_step")
    gn, pn = best("grlhf", t, "ms_per_step_min"), best("pytorch", t, "ms_per_step_min")
    peak = max(r["sgemm_peak_gflops"] for r in rows if r["impl"] == "grlhf" and r["threads"] == t)
    gflops = g1["matmul_gflop_per_step"] / (gm / 1000)
    print(f"{t:>7} {gm:9.1f} {pm:9.1f} {pm / gm:6.2f} {gn:11.1f} {pn:7.1f} {pn / gn:6.2f} {gflops:14.1f} {100 * gflops / peak:12.0f}%")
print(f"ratio = grlhf tokens/s ÷ PyTorch tokens/s ({tokens} tokens a step); best median over rounds, then fastest single step")
print(f"grlhf BLAS: {g1['blas']}; PyTorch {next(r for r in rows if r['impl'] == 'pytorch')['torch_version']}")
PY
