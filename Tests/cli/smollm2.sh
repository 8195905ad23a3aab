#!/usr/bin/env bash
# SmolLM2-135M-Instruct from its GGUF (`make models`) answers a chat question greedily, through the
# dequantized float32 weights and through the file's Q4_1/Q8_0 blocks (--quantized), with the
# reference's words (Tests/GRLHFTests/Fixtures/gguf/smollm2_reference.json, made by numpy).
#   Tests/cli/smollm2.sh [GRLHF]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
grlhf="${1:-$root/bin/grlhf}"
model="$root/.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
[ -f "$model" ] || { echo "FAIL: $model is missing (make models)" >&2; exit 1; }
want="The capital of France is Paris."
for mode in "" --quantized; do
    got="$("$grlhf" generate --model "$model" --prompt "What is the capital of France?" --temperature 0 --max-tokens 16 $mode 2>/dev/null)"
    [ "$got" = "$want" ] || { echo "FAIL: generate $mode answered '$got', expected '$want'" >&2; exit 1; }
done
echo "ok   SmolLM2 GGUF: greedy answers equal the reference, float32 and --quantized"
