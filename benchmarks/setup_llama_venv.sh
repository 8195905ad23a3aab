#!/usr/bin/env bash
# Create (idempotently) .cache/llama-venv: llama.cpp through llama-cpp-python 0.3.36, built from
# its PyPI sdist (about 8 minutes on 2 cores the first time; GGML_NATIVE=OFF builds ggml's AVX2/FMA
# x86 kernels), plus gguf and numpy. Used by benchmarks/decode.sh and scripts/llamacpp_reference.py;
# never by the library or its tests. Quick no-op when it already imports.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.cache/llama-venv"
PY="$VENV/bin/python"
if [ -x "$PY" ] && "$PY" -c 'import llama_cpp, gguf, numpy' >/dev/null 2>&1; then exit 0; fi
[ -x "$PY" ] || "${PYTHON:-python3}" -m venv "$VENV"
"$PY" -m pip install -q --disable-pip-version-check numpy gguf diskcache jinja2 typing-extensions
echo "setup_llama_venv: building llama-cpp-python 0.3.36 (llama.cpp) from source, ~8 min" >&2
CMAKE_ARGS="-DGGML_NATIVE=OFF" "$PY" -m pip install -q --disable-pip-version-check --no-deps "llama-cpp-python==0.3.36"
"$PY" -c 'import llama_cpp; print("llama venv ready:", llama_cpp.llama_print_system_info().decode())' >&2
