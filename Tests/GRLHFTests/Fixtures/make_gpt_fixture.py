"""Golden file for grlhf's GPT: a tiny nanoGPT-layout model run by PyTorch.

Writes Tests/GRLHFTests/Fixtures/gpt/tiny_gpt.safetensors with the initial weights under
grlhf's names, the batch (token ids and targets stored as exact float32 integers), and what
PyTorch computes from them: logits, the mean cross-entropy, every parameter's gradient
("grad.<name>") and every parameter after one AdamW step ("adamw.<name>").

Run with the benchmark venv (torch is never needed by the tests themselves):
    .cache/bench-venv/bin/python Tests/GRLHFTests/Fixtures/make_gpt_fixture.py
"""
import pathlib

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

V, T, L, D, H, B = 32, 8, 2, 16, 2, 2
torch.manual_seed(0)


def param(*shape, std=0.3):
    return (torch.randn(*shape) * std).requires_grad_()


names = {"transformer.wte.weight": param(V, D), "transformer.wpe.weight": param(T, D)}
for i in range(L):
    p = f"transformer.h.{i}."
    names.update({
        p + "ln_1.weight": param(D, std=0.2), p + "ln_1.bias": param(D, std=0.2),
        p + "attn.c_attn.weight": param(3 * D, D), p + "attn.c_attn.bias": param(3 * D, std=0.1),
        p + "attn.c_proj.weight": param(D, D), p + "attn.c_proj.bias": param(D, std=0.1),
        p + "ln_2.weight": param(D, std=0.2), p + "ln_2.bias": param(D, std=0.2),
        p + "mlp.c_fc.weight": param(4 * D, D), p + "mlp.c_fc.bias": param(4 * D, std=0.1),
        p + "mlp.c_proj.weight": param(D, 4 * D), p + "mlp.c_proj.bias": param(D, std=0.1),
    })
names.update({"transformer.ln_f.weight": param(D, std=0.2), "transformer.ln_f.bias": param(D, std=0.2),
              "lm_head.weight": param(V, D)})
with torch.no_grad():  # LayerNorm scales around 1, as after init
    for k, v in names.items():
        if k.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
            v += 1
initial = {k: v.detach().clone() for k, v in names.items()}

ids = torch.randint(0, V, (B, T))
targets = torch.randint(0, V, (B, T))
targets[1, 3] = -100  # one ignored position


def forward(w):
    x = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][:T]
    for i in range(L):
        p = f"transformer.h.{i}."
        h = F.layer_norm(x, (D,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], 1e-5)
        q, k, v = F.linear(h, w[p + "attn.c_attn.weight"], w[p + "attn.c_attn.bias"]).split(D, dim=2)
        q, k, v = (t.view(B, T, H, D // H).transpose(1, 2) for t in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, D)
        x = x + F.linear(a, w[p + "attn.c_proj.weight"], w[p + "attn.c_proj.bias"])
        h = F.layer_norm(x, (D,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], 1e-5)
        h = F.gelu(F.linear(h, w[p + "mlp.c_fc.weight"], w[p + "mlp.c_fc.bias"]), approximate="tanh")
        x = x + F.linear(h, w[p + "mlp.c_proj.weight"], w[p + "mlp.c_proj.bias"])
    x = F.layer_norm(x, (D,), w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], 1e-5)
    return F.linear(x, w["lm_head.weight"])


logits = forward(names)
loss = F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-100)
loss.backward()
out = dict(initial)
out["input_ids"] = ids.float().reshape(-1)
out["targets"] = targets.float().reshape(-1)
out["expected.logits"] = logits.detach()
out["expected.loss"] = loss.detach().reshape(())
for k, v in names.items():
    out["grad." + k] = v.grad.clone()
opt = torch.optim.AdamW(list(names.values()), lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
opt.step()
for k, v in names.items():
    out["adamw." + k] = v.detach().clone()

path = pathlib.Path(__file__).parent / "gpt" / "tiny_gpt.safetensors"
save_file({k: v.contiguous() for k, v in out.items()}, str(path), metadata={"config": f"V={V} T={T} L={L} D={D} H={H} B={B}", "torch": torch.__version__})
print(f"wrote {path} ({path.stat().st_size} bytes), loss {loss.item():.6f}")
