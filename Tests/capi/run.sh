#!/usr/bin/env bash
# Builds and runs the C ABI checks against a built libgrlhf.so:
#   Tests/capi/run.sh LIBDIR        (e.g. .build/release or .build-capi/debug)
# 1. the header compiles alone as C99 and C++17 with -Wall -Wextra -Werror -pedantic;
# 2. the .so exports exactly the grlhf_* functions the header declares, both ways;
# 3. test_capi.c (misuse matrix, each case in a child process), test_models.c (models,
#    tokenizers, generation on the fixtures) and test_capi.cpp pass.
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
"$CXX" -std=c++17 "${warnings[@]}" "$here/test_capi.cpp" -o "$bin/test_capi_cpp" "${link[@]}"

status=0
echo "== test_capi (C)"
env -u LD_LIBRARY_PATH "$bin/test_capi" || status=1
echo "== test_models (C: models, tokenizers, generation)"
env -u LD_LIBRARY_PATH GRLHF_FIXTURES="$root/Tests/GRLHFTests/Fixtures" "$bin/test_models" || status=1
echo "== test_capi_cpp (C++)"
env -u LD_LIBRARY_PATH "$bin/test_capi_cpp" || status=1
exit $status
