#!/usr/bin/env bash
# Fetches easy-VQA (PyPI `easy-vqa==1.0`, MIT, Victor Zhou) into the git-ignored .cache/:
#   the wheel            .cache/whl/easy_vqa-1.0-py3-none-any.whl   (sha256 checked)
#   unpacked             .cache/data/easy_vqa/easy_vqa/data/{answers.txt,train,test}
# and checks what it unpacked: 4,000 train and 1,000 test 64x64 PNGs, 38,575 and 9,673
# questions, 13 answers. Quick when already done (a stamp file records the checked wheel);
# fails with a message when PyPI cannot be reached. Run from anywhere: scripts/fetch_easy_vqa.sh
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
version=1.0
wheel_name="easy_vqa-$version-py3-none-any.whl"
wheel_sha256=fcb51b309b78c7b00f97b64cdbcbcf5c105f94da1b39c0796cee5a787c4f650f
whl_dir="$root/.cache/whl"
dest="$root/.cache/data/easy_vqa"
stamp="$dest/.fetched"
data="$dest/easy_vqa/data"

die() { echo "fetch_easy_vqa: $*" >&2; exit 1; }

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wheel_sha256" ] \
   && [ -f "$data/answers.txt" ] && [ -f "$data/train/questions.json" ] && [ -f "$data/test/questions.json" ]; then
    exit 0
fi

mkdir -p "$whl_dir" "$root/.cache/data"
wheel="$whl_dir/$wheel_name"
if [ ! -f "$wheel" ]; then
    echo "fetch_easy_vqa: downloading easy-vqa==$version from PyPI"
    if ! "$python" -m pip download -q --no-deps --only-binary :all: -d "$whl_dir" "easy-vqa==$version" >"$whl_dir/.pip.log" 2>&1; then
        tail -5 "$whl_dir/.pip.log" >&2
        die "could not download easy-vqa==$version with pip (offline, or no PyPI access?). Put $wheel_name into .cache/whl/ by hand, or rerun with network access."
    fi
    [ -f "$wheel" ] || die "pip finished but $wheel is missing"
fi
got="$(sha256sum "$wheel" | cut -d' ' -f1)"
[ "$got" = "$wheel_sha256" ] || die "$wheel has sha256 $got, expected $wheel_sha256 (delete it and rerun)"

# Unpack beside the destination, check, then move into place, so a half-unpacked tree is never used.
tmp="$(mktemp -d "$root/.cache/data/.easy_vqa.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
"$python" - "$wheel" "$tmp" <<'PY' || die "cannot unpack $wheel"
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
"$python" - "$tmp/easy_vqa/data" <<'PY' || die "the unpacked data is not what easy-vqa 1.0 ships (see above)"
import json, os, sys
d = sys.argv[1]
want = {"train": (4000, 38575), "test": (1000, 9673)}
bad = []
answers = [a.strip() for a in open(os.path.join(d, "answers.txt")) if a.strip()]
if len(answers) != 13: bad.append(f"answers.txt: {len(answers)} answers, expected 13")
for split, (n_images, n_questions) in want.items():
    images = [f for f in os.listdir(os.path.join(d, split, "images")) if f.endswith(".png")]
    qs = json.load(open(os.path.join(d, split, "questions.json")))
    if len(images) != n_images: bad.append(f"{split}: {len(images)} images, expected {n_images}")
    if len(qs) != n_questions: bad.append(f"{split}: {len(qs)} questions, expected {n_questions}")
    print(f"easy-vqa {split}: {len(images)} images, {len(qs)} questions")
for b in bad: print("fetch_easy_vqa:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "$wheel_sha256" >"$stamp"
echo "fetch_easy_vqa: easy-VQA $version in ${dest#$root/}/easy_vqa/data"
