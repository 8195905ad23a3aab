#!/usr/bin/env bash
# Builds and runs the C ABI checks against a built libgrlhf.so:
#   Tests/capi/run.sh LIBDIR        (e.g. .build/release or .build-capi/debug)
# 1. the header compiles alone as C99 and C++17 with -Wall -Wextra -Werror -pedantic;
# 2. the .so exports exactly the grlhf_* functions the header declares, both ways;
# 3. test_misuse.c's table covers every header function and each of its parameters
#    (check_misuse_table.py), and its misuse matrix passes (every case in a child process);
# 4. test_capi.c (tensors, sets, safetensors, handles, threads), test_models.c (models,
#    tokenizers, generation on the fixtures), test_training.c (trainers, rewards, checkpoints),
#    test_judge.c, test_pipeline.c (the quick pipeline on easy-VQA sets; needs `make data`) and
#    test_capi.cpp pass;
# 5. the CLI in LIBDIR (grlhf-cli) builds, describes and runs a multimodal model.
# CC and CXX may be overridden; binaries go to Tests/capi/bin (git-ignored).
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 LIBDIR" >&2
    exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
libdir="$(cd "$1" && pwd)"
lib="$libdir/libgrlhf.so"
header="$root/include/grlhf.h"
bin="$here/bin"
CC="${CC:-cc}"
CXX="${CXX:-c++}"
warnings=(-Wall -Wextra -Werror -pedantic)
[ -f "$lib" ] || { echo "no $lib; build it first" >&2; exit 1; }
mkdir -p "$bin"

echo "== header compiles as C99 and C++17"
"$CC" -std=c99 "${warnings[@]}" -Wstrict-prototypes -fsyntax-only -x c "$header"
"$CXX" -std=c++17 "${warnings[@]}" -fsyntax-only -x c++ "$header"

echo "== exported symbols equal the header's declarations"
# Comments and macros are stripped by the preprocessor; a declaration is `grlhf_name(`.
declared="$("$CC" -E -P -x c "$header" | grep -oE '\bgrlhf_[a-z0-9_]+\(' | tr -d '(' | sort -u)"
exported="$(nm -D --defined-only "$lib" | awk '{print $NF}' | grep -E '^grlhf_' | sort -u)"
if [ "$declared" != "$exported" ]; then
    echo "FAIL: header and library disagree (< header only, > library only):"
    diff <(echo "$declared") <(echo "$exported") || true
    exit 1
fi
echo "ok   $(echo "$declared" | wc -l) functions"

echo "== libgrlhf.so resolves its dependencies without LD_LIBRARY_PATH"
if env -u LD_LIBRARY_PATH ldd "$lib" | grep -q "not found"; then
    env -u LD_LIBRARY_PATH ldd "$lib" | grep "not found"
    echo "FAIL: unresolved dependencies"
    exit 1
fi
echo "ok"

# rpath to LIBDIR so the tests run without LD_LIBRARY_PATH, as an installed program would.
link=(-I "$root/include" -L "$libdir" -lgrlhf "-Wl,-rpath,$libdir" -pthread)
"$CC" -std=c99 "${warnings[@]}" "$here/test_capi.c" -o "$bin/test_capi" "${link[@]}" -lm
"$CC" -std=c99 "${warnings[@]}" "$here/test_models.c" -o "$bin/test_models" "${link[@]}" -lm
"$CC" -std=c99 "${warnings[@]}" "$here/test_training.c" -o "$bin/test_training" "${link[@]}" -lm
"$CC" -std=c99 "${warnings[@]}" "$here/test_judge.c" -o "$bin/test_judge" "${link[@]}" -lm
"$CC" -std=c99 "${warnings[@]}" "$here/test_misuse.c" -o "$bin/test_misuse" "${link[@]}"
"$CC" -std=c99 "${warnings[@]}" "$here/test_pipeline.c" -o "$bin/test_pipeline" "${link[@]}"
"$CXX" -std=c++17 "${warnings[@]}" "$here/test_capi.cpp" -o "$bin/test_capi_cpp" "${link[@]}"

status=0
fixtures="$root/Tests/GRLHFTests/Fixtures"
echo "== the misuse table covers every header function and parameter"
"$CC" -E -P -x c "$header" >"$bin/grlhf.i"
"$bin/test_misuse" --list | python3 "$here/check_misuse_table.py" "$bin/grlhf.i" || status=1
echo "== test_misuse (C: the misuse matrix, one child process per case)"
env -u LD_LIBRARY_PATH GRLHF_FIXTURES="$fixtures" "$bin/test_misuse" || status=1
echo "== test_capi (C)"
env -u LD_LIBRARY_PATH "$bin/test_capi" || status=1
echo "== test_models (C: models, tokenizers, generation)"
env -u LD_LIBRARY_PATH GRLHF_FIXTURES="$root/Tests/GRLHFTests/Fixtures" "$bin/test_models" || status=1
echo "== test_training (C: SFT, reward models, DPO, GRPO with C rewards, checkpoints)"
env -u LD_LIBRARY_PATH GRLHF_FIXTURES="$root/Tests/GRLHFTests/Fixtures" "$bin/test_training" || status=1
echo "== test_judge (C: judge, grouped comparison, parity with the Swift API through grlhf-cli)"
env -u LD_LIBRARY_PATH GRLHF_FIXTURES="$root/Tests/GRLHFTests/Fixtures" GRLHF_CLI="$libdir/grlhf-cli" "$bin/test_judge" || status=1
echo "== test_pipeline (C: the quick pipeline on easy-VQA sets)"
env -u LD_LIBRARY_PATH GRLHF_CLI="$libdir/grlhf-cli" GRLHF_EASY_VQA="${GRLHF_EASY_VQA:-$root/.cache/data/easy_vqa}" \
    "$bin/test_pipeline" 2>"$bin/test_pipeline.stderr" || { tail -20 "$bin/test_pipeline.stderr"; status=1; }
echo "== test_capi_cpp (C++)"
env -u LD_LIBRARY_PATH GRLHF_FIXTURES="$root/Tests/GRLHFTests/Fixtures" "$bin/test_capi_cpp" || status=1

# The CLI on a multimodal model built from the fixture config: init-model, info, generate with
# a PNG, and a missing PNG refused with a message. $1: a scratch directory.
cli_smoke() {
    local cli="$libdir/grlhf-cli" tmp="$1" fixtures="$root/Tests/GRLHFTests/Fixtures"
    [ -x "$cli" ] || { echo "FAIL: no $cli"; return 1; }
    "$cli" init-model --config "$fixtures/multimodal/config.json" \
        --tokenizer "$fixtures/multimodal/tokenizer.json" --out "$tmp/model" >/dev/null || return 1
    "$cli" info "$tmp/model" >"$tmp/info" || return 1
    grep -q "multimodal (llava)" "$tmp/info" || { echo "FAIL: info: $(cat "$tmp/info")"; return 1; }
    "$cli" generate --model "$tmp/model" --image "$fixtures/png/rgb_filters.png" \
        --prompt "what shape?" --max-tokens 4 --temperature 0 >"$tmp/out" 2>"$tmp/err" || {
        echo "FAIL: generate: $(cat "$tmp/err")"; return 1; }
    # stdout is the reply (possibly empty if the first token ends the turn), stderr the summary.
    grep -q "prompt tokens" "$tmp/err" || { echo "FAIL: generate printed no summary"; return 1; }
    echo "ok   generate $(cat "$tmp/err")"
    if "$cli" generate --model "$tmp/model" --image "$tmp/missing.png" --prompt "what shape?" \
        --max-tokens 4 >/dev/null 2>"$tmp/err"; then
        echo "FAIL: generate with a missing PNG succeeded"; return 1
    fi
    grep -q "missing.png" "$tmp/err" || { echo "FAIL: no message for a missing PNG"; return 1; }
    echo "ok   a missing PNG: $(head -c 100 "$tmp/err")"
}
echo "== grlhf CLI with a multimodal model"
scratch="$(mktemp -d)"
cli_smoke "$scratch" || status=1
rm -rf "$scratch"
exit $status
