"""A LoRA adapter written by Hugging Face PEFT, for grlhf's LoRA loader.

Takes the tiny Llama of ../lm/llama (untied lm_head), wraps it with PEFT
LoraConfig(r=4, lora_alpha=8, target_modules=[q_proj, k_proj, v_proj, o_proj, gate_proj,
up_proj, down_proj, lm_head]), re-draws every lora_B from N(0, 0.05^2) (PEFT starts B at
zero, which would make the check trivial), and writes into llama/:

  adapter_config.json, adapter_model.safetensors   PeftModel.save_pretrained(llama/,
                                                     save_embedding_layers=False)
  expected.safetensors (F32): logits [2, 12, 128]   the adapted model on ../lm/llama's
                                                     input_ids; merge_and_unload() gives the
                                                     same logits (checked here)

Made with peft 0.21.2, transformers 5.24.0, torch 2.13.0+cpu. Run with the benchmark venv
(benchmarks/setup_torch_venv.sh installs peft into it):
    .cache/bench-venv/bin/python Tests/GRLHFTests/Fixtures/lora/make_lora_fixture.py
"""
import pathlib

import peft
import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

HERE = pathlib.Path(__file__).resolve().parent
BASE = HERE.parent / "lm" / "llama"
OUT = HERE / "llama"

torch.manual_seed(0)
base = AutoModelForCausalLM.from_pretrained(BASE, attn_implementation="eager").eval()
base.name_or_path = ""  # not this machine's path in the committed config
config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, task_type="CAUSAL_LM",
                    target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"])
model = get_peft_model(base, config).eval()
with torch.no_grad():
    for name, p in model.named_parameters():
        if "lora_B" in name:
            p.normal_(0, 0.05)
# Targeting lm_head makes PEFT also save the base lm_head weight unless told not to.
model.save_pretrained(OUT, save_embedding_layers=False)

ids = load_file(BASE / "expected.safetensors")["input_ids"].long()
with torch.no_grad():
    logits = model(ids).logits
    merged = model.merge_and_unload()(ids).logits
assert torch.allclose(logits, merged, atol=1e-5), (logits - merged).abs().max()
save_file({"logits": logits.contiguous()}, OUT / "expected.safetensors")
(OUT / "README.md").unlink(missing_ok=True)  # PEFT's model-card template
print(f"peft {peft.__version__}: wrote {sorted(p.name for p in OUT.iterdir())}")
