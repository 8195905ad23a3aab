#!/usr/bin/env bash
# make test-examples: every example against grlhf as a user installs it.
#   1. `make install PREFIX=<temporary>`: the header, the library, lib/pkgconfig/grlhf.pc (with
#      that prefix) and the CLI land there;
#   2. C++ (examples/cpp): built with pkg-config against that prefix, linked to the installed
#      library (not the build tree), run: a policy learns the judge's favourite answer;
# MAKE may name the make to use.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
make="${MAKE:-make}"
prefix="$(mktemp -d /tmp/grlhf-prefix-XXXXXX)"
trap 'rm -rf "$prefix"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
seconds() { echo $(( $(date +%s) - $1 )); }

echo "== make install PREFIX=$prefix"
"$make" -s -C "$root" install PREFIX="$prefix" >/dev/null
for f in include/grlhf.h lib/libgrlhf.so lib/pkgconfig/grlhf.pc bin/grlhf; do
    [ -f "$prefix/$f" ] || fail "make install did not install $f"
done
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
[ "$(pkg-config --variable=prefix grlhf)" = "$prefix" ] || fail "grlhf.pc: prefix is $(pkg-config --variable=prefix grlhf)"
version="$(sed -n 's/^#define GRLHF_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' "$root/include/grlhf.h" | paste -sd.)"
[ "$(pkg-config --modversion grlhf)" = "$version" ] || fail "grlhf.pc: version $(pkg-config --modversion grlhf), header $version"
[ "$(pkg-config --cflags grlhf | xargs)" = "-I$prefix/include" ] || fail "grlhf.pc: cflags $(pkg-config --cflags grlhf)"
echo "ok   grlhf.pc: $(pkg-config --modversion grlhf), $(pkg-config --libs grlhf)"

echo "== C++: examples/cpp (pkg-config, the installed library)"
start=$(date +%s)
"$make" -s -C "$root/examples/cpp" OUT="$prefix" "$prefix/judge_bandit" >/dev/null
linked="$(env -u LD_LIBRARY_PATH ldd "$prefix/judge_bandit")"
[[ "$linked" == *"libgrlhf.so => $prefix/lib/libgrlhf.so"* ]] \
    || fail "judge_bandit does not load the installed library: $(echo "$linked" | grep grlhf)"
env -u LD_LIBRARY_PATH "$prefix/judge_bandit" "$root/Tests/GRLHFTests/Fixtures/multimodal/tokenizer.json" \
    >"$prefix/cpp.log" 2>&1 || { cat "$prefix/cpp.log"; fail "examples/cpp/judge_bandit"; }
tail -2 "$prefix/cpp.log"
echo "ok   C++ example in $(seconds $start) s"

