"""Checks that Hugging Face PEFT loads a LoRA adapter grlhf writes, onto the base checkpoint
grlhf writes, and computes the same logits, adapted and merged. The Swift test
`savesPEFTNamesAndLoadsThemBack` writes a tiny Llama (base/), a LoRA adapter on every linear
layer and lm_head (adapter/, random A and B) and grlhf's logits (expected.safetensors) into
$GRLHF_LORA_EXPORT; this script runs it, then loads both with transformers + PEFT.
(The other direction, grlhf loading PEFT's adapter, is the test `loadsAnAdapterWrittenByPEFT`.)

    bash benchmarks/setup_torch_venv.sh   # torch, transformers and peft
    .cache/bench-venv/bin/python benchmarks/check_peft_adapter.py   # SWIFT_SCRATCH=.build by default
"""
import os
import pathlib
import subprocess
import sys
import tempfile

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

root = pathlib.Path(__file__).resolve().parent.parent
with tempfile.TemporaryDirectory() as tmp:
    subprocess.run(["swift", "test", "--scratch-path", os.environ.get("SWIFT_SCRATCH", ".build"),
                    "--filter", "savesPEFTNamesAndLoadsThemBack"],
                   cwd=root, env={**os.environ, "GRLHF_LORA_EXPORT": tmp}, check=True, stdout=subprocess.DEVNULL)
    expected = load_file(f"{tmp}/expected.safetensors")
    ids = expected["input_ids"].long()
    base = AutoModelForCausalLM.from_pretrained(f"{tmp}/base", attn_implementation="eager").eval()
    model = PeftModel.from_pretrained(base, f"{tmp}/adapter").eval()
    with torch.no_grad():
        adapted = model(ids).logits
        merged = model.merge_and_unload()(ids).logits
scale = float(expected["logits"].abs().max())
worst = 0.0
for name, logits in [("adapted", adapted), ("merged", merged)]:
    diff = float((logits - expected["logits"]).abs().max()) / scale
    worst = max(worst, diff)
    print(f"PEFT {name}: max |Δ logit| / max |logit| = {diff:.2e}")
print("ok" if worst < 1e-5 else "MISMATCH")
sys.exit(0 if worst < 1e-5 else 1)
