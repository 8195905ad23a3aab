"""Checks that a checkpoint grlhf writes loads in Hugging Face transformers with the same
numbers: `grlhf init-model` writes a random Llama and a random Qwen2 model (config.json +
model.safetensors), transformers loads each directory, and its next-token log-probs for a fixed
sequence are compared with grlhf's own (through the Python bindings).

    make build && .cache/bench-venv/bin/python benchmarks/check_transformers_reload.py
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import torch
from transformers import AutoModelForCausalLM

root = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(root / "bindings/python"))
os.environ.setdefault("GRLHF_LIBRARY", str(root / ".build/release/libgrlhf.so"))
import grlhf  # noqa: E402

CONFIGS = {
    "llama": dict(model_type="llama", vocab_size=96, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=10000.0,
                  max_position_embeddings=64, tie_word_embeddings=False),
    "qwen2": dict(model_type="qwen2", vocab_size=96, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=50000.0,
                  max_position_embeddings=64, tie_word_embeddings=True),
}
ids = np.random.default_rng(0).integers(0, 96, size=16).astype(np.int32)
worst = 0.0
with tempfile.TemporaryDirectory() as tmp:
    for name, config in CONFIGS.items():
        cfg, out = pathlib.Path(tmp) / f"{name}.json", pathlib.Path(tmp) / name
        cfg.write_text(json.dumps(config))
        subprocess.run([str(root / ".build/release/grlhf-cli"), "init-model", "--config", str(cfg), "--out", str(out), "--seed", "3"], check=True)
        with grlhf.Model(out) as model:
            ours = model.logprobs(ids)
        hf = AutoModelForCausalLM.from_pretrained(out, attn_implementation="eager").eval()
        with torch.no_grad():
            logp = torch.log_softmax(hf(torch.tensor(ids[None], dtype=torch.long)).logits[0], -1)
        theirs = logp[torch.arange(len(ids) - 1), torch.tensor(ids[1:], dtype=torch.long)].numpy()
        diff = float(np.abs(ours - theirs).max())
        worst = max(worst, diff)
        print(f"{name}: transformers loaded grlhf's checkpoint; max |Δ log-prob| = {diff:.2e}")
print("ok" if worst < 1e-4 else "MISMATCH")
sys.exit(0 if worst < 1e-4 else 1)
