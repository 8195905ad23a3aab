#!/usr/bin/env bash
# `grlhf data easy-vqa` on the real easy-VQA data (fetched by `make data`), with small counts:
#   Tests/cli/data.sh [GRLHF]        (default bin/grlhf)
# Skips (exit 0) when .cache/data/easy_vqa is missing. Checks the files and their row counts, the
# manifest (source, sha256 of the questions files, counts), that no training row has a held-out
# template and every OOD row has one, the pairs (gold vs a same-type wrong answer, same wording,
# both orders), that images exist (absolute and relative paths), seeded reproducibility, and
# that the trainers read the files (sft and dpo on the tiny multimodal fixture, two steps).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
grlhf="${1:-$root/bin/grlhf}"
grlhf="$(cd "$(dirname "$grlhf")" && pwd)/$(basename "$grlhf")"
[ -x "$grlhf" ] || { echo "no $grlhf; build it first" >&2; exit 1; }
src="$root/.cache/data/easy_vqa"
if [ ! -f "$src/easy_vqa/data/answers.txt" ]; then
    echo "skip: no easy-VQA in $src (run make data)"
    exit 0
fi
python="${PYTHON:-python3}"
fixture="$root/Tests/GRLHFTests/Fixtures/multimodal"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
start=$SECONDS

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
run() { "$grlhf" "$@" >log 2>&1 || { cat log; fail "grlhf $*"; }; }

echo "== grlhf data easy-vqa"
run data easy-vqa --source "$src" --out d --train 40 --prefs 60 --test 30 --ood 20 --seed 1
grep -q "38575 train, 9673 test questions" log || { cat log; fail "no source counts in the output"; }
declare -A want=([sft]=40 [prefs_train]=60 [prefs_test_id]=30 [prefs_test_ood]=20 [prompts_train]=40 [prompts_test]=30 [prompts_test_ood]=20)
for f in "${!want[@]}"; do
    [ -f "d/$f.jsonl" ] || fail "no d/$f.jsonl"
    n=$(grep -c . "d/$f.jsonl")
    [ "$n" = "${want[$f]}" ] || fail "$f.jsonl: $n rows, expected ${want[$f]}"
done
ok "seven files with the asked-for row counts"

"$python" - d "$src/easy_vqa/data" <<'PY' || fail "content checks (above)"
import hashlib, json, os, sys
out, data = sys.argv[1], sys.argv[2]
m = json.load(open(f"{out}/manifest.json"))
def rows(name): return [json.loads(l) for l in open(f"{out}/{name}.jsonl") if l.strip()]
s = m["source"]
assert s["package"] == "easy-vqa" and s["version"] == "1.0" and s["license"] == "MIT", s
assert s["train_questions"] == 38575 and s["test_questions"] == 9673, s
for split in ("train", "test"):
    assert s["sha256"][split] == hashlib.sha256(open(f"{data}/{split}/questions.json", "rb").read()).hexdigest(), split
held = set(m["held_out_templates"])
assert len(held) == 6, held
p = m["pools"]
assert p["train"] + p["train_held_out"] == 38575 and p["test_id"] + p["test_ood"] == 9673, p
for name in ("sft", "prefs_train", "prompts_train"):
    for r in rows(name):
        assert r["template"] not in held and r["source_split"] == "train", (name, r)
for name in ("prefs_test_id", "prompts_test"):
    for r in rows(name):
        assert r["template"] not in held and r["source_split"] == "test", (name, r)
for name in ("prefs_test_ood", "prompts_test_ood"):
    for r in rows(name):
        assert r["template"] in held and r["source_split"] == "test", (name, r)
types = {"yes/no": {"yes", "no"}, "shape": {"circle", "rectangle", "triangle"},
         "color": {"red", "green", "blue", "black", "gray", "yellow", "teal", "brown"}}
keys = set()
for name in ("sft", "prefs_train", "prompts_train"):
    keys |= {(r["image_id"], r["question"]) for r in rows(name)}
assert len(keys) == 140, "training sets overlap"
firsts = 0
for name in ("prefs_train", "prefs_test_id", "prefs_test_ood"):
    for r in rows(name):
        assert r["preferred"] in (1, 2)
        chosen, rejected = (r["response_1"], r["response_2"]) if r["preferred"] == 1 else (r["response_2"], r["response_1"])
        assert chosen == f"The answer is {r['answer']}." and rejected == f"The answer is {r['rejected_answer']}.", r
        assert r["rejected_answer"] != r["answer"] and {r["answer"], r["rejected_answer"]} <= types[r["answer_type"]], r
        assert os.path.isfile(r["image"]) and r["image"].endswith(f"/{r['source_split']}/images/{r['image_id']}.png"), r
        firsts += r["preferred"] == 1
assert firsts == 30 + 15 + 10, firsts
for r in rows("prompts_train") + rows("prompts_test"):
    assert r["ground_truth"] == r["answer"], r
for r in rows("sft"):
    assert r["response"] == f"The answer is {r['answer']}.", r
print("checked", sum(f["rows"] for f in m["files"].values()), "rows")
PY
ok "manifest, held-out templates, pairs, images"

run data easy-vqa --source "$src" --out again --train 40 --prefs 60 --test 30 --ood 20 --seed 1
run data easy-vqa --source "$src" --out other --train 40 --prefs 60 --test 30 --ood 20 --seed 2
for f in d/*.jsonl; do cmp -s "$f" "again/$(basename "$f")" || fail "$f differs with the same seed"; done
! cmp -s d/prefs_train.jsonl other/prefs_train.jsonl || fail "another seed gave the same pairs"
ok "seeded: same seed, same files; another seed, other files"

run data easy-vqa --source "$src" --out rel/sets --train 5 --test 5 --ood 5 --relative-images --hold-out negated
grep -q '"image":"\.\./' rel/sets/sft.jsonl || fail "no relative image paths"
"$python" -c "
import json
m = json.load(open('rel/sets/manifest.json'))
assert len(m['held_out_templates']) == 8 and m['image_paths'] == 'relative', m['held_out_templates']
for l in open('rel/sets/prefs_test_ood.jsonl'):
    q = json.loads(l)['question']
    assert ' not ' in q or q.startswith('is no '), q
" || fail "--hold-out negated"
ok "relative image paths, --hold-out negated"

echo "== the trainers read the files (tiny multimodal model, 2 steps)"
run sft --init-config "$fixture/config.json" --tokenizer "$fixture/tokenizer.json" --data rel/sets/sft.jsonl --out sft --steps 2 --batch-size 2
run dpo --model sft --data d/prefs_train.jsonl --out dpo --steps 2 --batch-size 2
ok "sft (relative images) and dpo (absolute images) train"

! "$grlhf" data easy-vqa --source "$src" --out bad --train 20000 >log 2>&1 || fail "an oversized request succeeded"
grep -q "training pool" log || { cat log; fail "no message for an oversized request"; }
! "$grlhf" data easy-vqa --source "$src" --out bad --hold-out "is it a <shape>?" >log 2>&1 || fail "an unknown template was accepted"
grep -q "no easy-VQA question has the template" log || { cat log; fail "no message for an unknown template"; }
ok "bad requests are refused with a message"
echo "data: all passed in $((SECONDS - start))s"
