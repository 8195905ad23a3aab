#!/usr/bin/env bash
# EfficientNet-Lite0 forward, one 224x224 image, no grad: grlhf (`grlhf classify --repeats`) vs
# PyTorch eager on the same folded network (benchmarks/efficientnet_torch.py), alternating,
# ROUNDS rounds of 30 forwards each, best round of each side.
# Needs .cache/models/efficientnet-lite0-57934424.pth (`make models`).   Usage: benchmarks/efficientnet.sh [threads]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
threads="${1:-1}"
rounds="${ROUNDS:-3}"
bash benchmarks/setup_torch_venv.sh >/dev/null
py=.cache/bench-venv/bin/python
cli=.build/release/grlhf-cli
[ -x "$cli" ] || swift build -c release --product grlhf-cli >/dev/null
pth=.cache/models/efficientnet-lite0-57934424.pth
[ -f "$pth" ] || { echo "efficientnet.sh: $pth missing (make models)" >&2; exit 1; }
image=Tests/GRLHFTests/Fixtures/efficientnet/coffee.png
best_g=; best_t=
for _ in $(seq "$rounds"); do
    g=$("$cli" classify --model "$pth" --image "$image" --repeats 30 --threads "$threads" 2>&1 >/dev/null | sed -n 's/.*forward \([0-9.]*\) ms.*/\1/p')
    t=$("$py" benchmarks/efficientnet_torch.py "$pth" --threads "$threads" --runs 30)
    best_g=$(printf '%s\n%s\n' "$g" "$best_g" | grep . | sort -g | head -1)
    best_t=$(printf '%s\n%s\n' "$t" "$best_t" | grep . | sort -g | head -1)
    echo "round: grlhf $g ms, PyTorch $t ms"
done
awk -v g="$best_g" -v t="$best_t" -v n="$threads" 'BEGIN { printf "threads %d: grlhf %.2f ms, PyTorch %.2f ms per image, speed ratio (PyTorch time / grlhf time) %.2f\n", n, g, t, t / g }'
