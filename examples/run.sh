#!/usr/bin/env bash
# make test-examples: every example against grlhf as a user installs it.
#   1. `make install PREFIX=<temporary>`: the header, the library, lib/pkgconfig/grlhf.pc (with
#      that prefix) and the CLI land there;
#   2. C++ (examples/cpp): built with pkg-config against that prefix, linked to the installed
#      library (not the build tree), run: a policy learns the judge's favourite answer;
#   3. Python (examples/python): a venv under .cache/examples-venv with nbclient, ipykernel and
#      matplotlib (never library dependencies); `make install PREFIX=<venv>` and
#      `pip install ./bindings/python` into it; `import grlhf` outside the repository finds the
#      venv's lib/libgrlhf.so without GRLHF_LIBRARY; the quickstart notebook runs, every cell;
#   4. Swift (examples/swift): a package depending on this one by path (product GRLHF), built
#      with the flags of `make build` and run: a judge is taught for a few seconds and ranks a
#      group as taught.
# MAKE may name the make to use; PYTHON the interpreter that makes the venv; SWIFT_BUILD_FLAGS the
# flags of `make build` (default -c release).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
make="${MAKE:-make}"
python="${PYTHON:-python3}"
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

echo "== Python: pip install ./bindings/python into a venv, examples/python/quickstart.ipynb"
start=$(date +%s)
venv="$root/.cache/examples-venv"
if ! "$venv/bin/python" -c "import nbclient, ipykernel, matplotlib, numpy, setuptools, wheel" 2>/dev/null; then
    echo "making $venv (nbclient, ipykernel, matplotlib: for the example only)"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check nbclient ipykernel matplotlib numpy setuptools wheel \
        || fail "pip could not install the notebook's tools into $venv"
fi
"$make" -s -C "$root" install PREFIX="$venv" >/dev/null
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation --force-reinstall \
    "$root/bindings/python" >"$prefix/pip.log" 2>&1 || { cat "$prefix/pip.log"; fail "pip install ./bindings/python"; }
# From outside the repository, without GRLHF_LIBRARY: the installed package finds the venv's library.
found="$(cd "$prefix" && env -u GRLHF_LIBRARY "$venv/bin/python" -c \
    'import grlhf, grlhf._lib as l; print(l.path, grlhf.__file__, grlhf.abi_version())')"
case "$found" in
    "$venv/lib/libgrlhf.so $venv/lib/python"*"/site-packages/grlhf/__init__.py 2") echo "ok   import grlhf: $found" ;;
    *) fail "import grlhf found: $found" ;;
esac
[ -f "$(dirname "$(echo "$found" | cut -d' ' -f2)")/py.typed" ] || fail "the installed package has no py.typed"
(cd "$root/examples/python" && env -u GRLHF_LIBRARY -u MPLBACKEND "$venv/bin/python" run_notebook.py quickstart.ipynb) \
    || fail "examples/python/quickstart.ipynb"
echo "ok   Python example in $(seconds $start) s"

echo "== Swift: examples/swift (a package depending on this one by path, product GRLHF)"
start=$(date +%s)
# In the repository's own .build with the flags `make build` used (SWIFT_BUILD_FLAGS): the engine's
# compile commands are the same, so its objects are reused and only the example is compiled
# (seconds, where a scratch folder of its own would compile the engine again, minutes).
swift build ${SWIFT_BUILD_FLAGS:--c release} --package-path "$root/examples/swift" --scratch-path "$root/.build" \
    >"$prefix/swift-build.log" 2>&1 || { tail -30 "$prefix/swift-build.log"; fail "swift build examples/swift"; }
bindir="$(swift build ${SWIFT_BUILD_FLAGS:--c release} --package-path "$root/examples/swift" --scratch-path "$root/.build" --show-bin-path)"
"$bindir/JudgeExample" >"$prefix/swift.log" 2>&1 \
    || { cat "$prefix/swift.log"; fail "examples/swift"; }
tail -1 "$prefix/swift.log"
echo "ok   Swift example in $(seconds $start) s"
