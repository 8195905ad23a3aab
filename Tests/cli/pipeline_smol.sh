#!/usr/bin/env bash
# grlhf pipeline --preset smol, one or two steps per stage on a few easy-VQA rows: EfficientNet-Lite0
# (frozen) + projector + SmolLM2-135M-Instruct with LoRA (make models, make data) through every
# stage. Checks that the summary is complete and finite, that the model folders record the GGUF
# and LoRA and hold only the tower, projector and adapters (not SmolLM2's weights), that the
# tokenizer is SmolLM2's with <image> in place of <empty_output> (and sits in every stage's folder,
# which `grlhf generate` then reads), that finished stages keep one checkpoint, and that a rerun
# resumes. Asserts nothing about accuracy (two steps teach nothing).
# About a minute and a half on two cores.      Tests/cli/pipeline_smol.sh [GRLHF]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
grlhf="${1:-$root/bin/grlhf}"
grlhf="$(cd "$(dirname "$grlhf")" && pwd)/$(basename "$grlhf")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$root"  # the preset names the models by their .cache/models paths
"$grlhf" data easy-vqa --out "$tmp/data" --train 16 --test 4 --ood 4 --seed 1 >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "grlhf data"; }
head -n 32 "$tmp/data/pretrain.jsonl" >"$tmp/pretrain" && mv "$tmp/pretrain" "$tmp/data/pretrain.jsonl"
cat >"$tmp/smoke.json" <<'JSON'
{"pretrainSteps": 1, "sftSteps": 2, "rmSteps": 1, "formatSteps": 1, "grmSFTSteps": 1, "grmRLSteps": 1,
 "batchSize": 2, "groupSize": 2, "promptsPerStep": 1, "evalPairs": 2, "evalPrompts": 2,
 "policySteps": 1, "policyGroup": 2, "dpoSteps": 1, "scalingGroups": [2], "judgeMaxTokens": 12}
JSON
run() { "$grlhf" pipeline --preset smol --config "$tmp/smoke.json" --data "$tmp/data" --output "$tmp/out" --threads 2 >"$tmp/log" 2>&1; }
run || { cat "$tmp/log"; fail "pipeline --preset smol"; }
python3 - "$tmp/out" "$root/.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf" <<'PY' || { cat "$tmp/log"; fail "summary"; }
import json, math, os, struct, sys
out, gguf = sys.argv[1], sys.argv[2]
s = json.load(open(f"{out}/summary.json"))
assert s["preset"] == "smol" and json.load(open(f"{out}/config.json"))["name"] == "smol"
def finite(a): return all(math.isfinite(v) and 0 <= v <= 1 for v in [a["overall"]] + list(a["byType"].values()))
assert set(s["rewardModels"]) == {"BT RM", "GRM (untrained)", "GRM+SFT", "GRM+RL"}, s["rewardModels"]
assert set(s["policies"]) == {"base (SFT)", "GRPO + BT RM", "GRPO + GRM", "GRPO + GRM+RL (grouped comparison)", "DPO"}, s["policies"]
assert all(finite(r["id"]) and finite(r["ood"]) for r in list(s["rewardModels"].values()) + list(s["policies"].values()))
assert len(s["stages"]) == 10 and all(t["seconds"] > 0 for t in s["stages"]), s["stages"]
tokenizer = json.load(open(f"{out}/tokenizer.json"))
added = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
assert added["<image>"] == 16 and "<empty_output>" not in added and len(tokenizer["model"]["vocab"]) == 49152, added
for stage in ("pretrain", "base", "rm-bt", "grm", "grm-sft", "grm-rl", "policy-grpo-bt", "policy-grpo-grm", "policy-grpo-grm-rl", "policy-dpo"):
    config = json.load(open(f"{out}/{stage}/config.json"))
    assert config["language_model_gguf"] == os.path.realpath(gguf), config["language_model_gguf"]
    assert config["vision_config"] == {"model_type": "efficientnet_lite0", "tokens": "feature_map"}, config["vision_config"]
    assert config["lora"]["r"] == 16 and config["image_token_index"] == 16 and config["image_preprocessor"]["size"] == 224
    with open(f"{out}/{stage}/model.safetensors", "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    names = [n for n in header if n != "__metadata__"]
    assert any(n.startswith("vision_tower._blocks.15.") for n in names) and "multi_modal_projector.linear_1.weight" in names
    assert len([n for n in names if ".lora_" in n]) == 30 * 7 * 2, len(names)
    language = [n for n in names if n.startswith("language_model.") and ".lora_" not in n]
    assert not language, language[:3]  # SmolLM2's weights stay in the GGUF
    assert os.path.getsize(f"{out}/{stage}/model.safetensors") < 60e6
    assert json.load(open(f"{out}/{stage}/tokenizer.json")) == tokenizer
    steps = [d for d in os.listdir(f"{out}/{stage}/checkpoints") if d.startswith("step-")]
    assert len(steps) == 1, (stage, steps)
PY
"$grlhf" info "$tmp/out/base" >"$tmp/info" 2>&1 || { cat "$tmp/info"; fail "grlhf info on a smol model"; }
image="$(python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())["image"])' "$tmp/data/prompts_test.jsonl")"
"$grlhf" generate --model "$tmp/out/base" --image "$image" --prompt "what color is the shape?" --temperature 0 --max-tokens 4 \
    >"$tmp/generate" 2>&1 || { cat "$tmp/generate"; fail "grlhf generate with a stage's folder (its tokenizer.json beside the model)"; }
grep -q "EfficientNet-Lite0" "$tmp/info" && grep -q "LoRA: r 16" "$tmp/info" || { cat "$tmp/info"; fail "grlhf info does not describe the smol model"; }
run || { cat "$tmp/log"; fail "pipeline rerun"; }
[ "$(grep -c 'done earlier' "$tmp/log")" = 10 ] || { cat "$tmp/log"; fail "a rerun should skip the 10 finished stages"; }
echo "ok   pipeline --preset smol: EfficientNet-Lite0 + SmolLM2 with LoRA through every stage, model folders without SmolLM2's weights, a rerun resumes"
