#!/usr/bin/env bash
# Create (idempotently) the Python venv used by the PyTorch side of the
# benchmarks and fixture scripts: <repo>/.cache/bench-venv with torch (CPU), numpy,
# safetensors, transformers and peft (for the Llama/Qwen2 golden files under
# Tests/GRLHFTests/Fixtures/lm and the LoRA ones under Fixtures/lora; models are built from
# configs, no weights are downloaded).
# Quick no-op when the venv already imports torch, numpy, safetensors, transformers and peft.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.cache/bench-venv"
PY="$VENV/bin/python"
PYTHON="${PYTHON:-python3}"

if [ -x "$PY" ] && "$PY" -c 'import torch, numpy, safetensors, transformers, peft' >/dev/null 2>&1; then
    echo "bench venv ready: $VENV (torch $("$PY" -c 'import torch; print(torch.__version__)'))"
    exit 0
fi

mkdir -p "$ROOT/.cache"
[ -x "$PY" ] || "$PYTHON" -m venv "$VENV"
PIP=("$PY" -m pip install --disable-pip-version-check)

if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
    # torch==2.13.0+cpu resolves from a local wheel folder (PIP_FIND_LINKS) when present.
    "${PIP[@]}" 'torch==2.13.0+cpu' || "${PIP[@]}" torch
fi
"${PIP[@]}" numpy safetensors transformers peft

"$PY" -c 'import torch, numpy, safetensors, transformers; print("bench venv ready: torch", torch.__version__, "transformers", transformers.__version__)'
