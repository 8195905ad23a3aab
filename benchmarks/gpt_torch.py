"""PyTorch reference side of the grlhf GPT training benchmark.

Measures the wall time of one full training step -- forward, cross-entropy
loss, backward, AdamW step, zero_grad -- of a small nanoGPT-style GPT in
PyTorch CPU eager mode, float32. The model is pre-LayerNorm with learned token
(`wte`) and position (`wpe`) embeddings, fused qkv projection, causal
attention via F.scaled_dot_product_attention (PyTorch's best eager path),
tanh-GELU MLP, final LayerNorm and an untied lm_head.

After `--warmup` untimed steps, `--steps` steps are timed individually and the
median (and the fastest step) is reported, along with tokens/s = B*T / median seconds and the
analytic matmul GFLOP per training step (3x forward; attention counts the
full T*T score matrix, not the causal half).

Run with the venv from benchmarks/setup_torch_venv.sh:
    .cache/bench-venv/bin/python benchmarks/gpt_torch.py --threads 1 --json
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, n_head):
        super().__init__()
        self.n_head = n_head
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.c_attn = nn.Linear(d, 3 * d, bias=True)
        self.c_proj = nn.Linear(d, d, bias=True)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d, bias=True),
                                 nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * d, d, bias=True))

    def attn(self, x):
        B, T, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (t.view(B, T, self.n_head, d // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, d))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab, block, n_layer, n_embd, n_head):
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(block, n_embd)
        self.h = nn.ModuleList(Block(n_embd, n_head) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd, eps=1e-5)
        self.lm_head = nn.Linear(n_embd, vocab, bias=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, idx, targets):
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def matmul_gflop_per_step(B, T, d, n_layer, n_head, vocab):
    """Analytic matmul FLOPs of one training step (forward x3), in GFLOP."""
    linear = 2 * B * T * (3 * d * d + d * d + 8 * d * d) * n_layer + 2 * B * T * d * vocab
    attention = 2 * 2 * B * n_head * T * T * (d // n_head) * n_layer  # QK^T and PV, full T*T
    return 3 * (linear + attention) / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n_layer", type=int, default=4)
    p.add_argument("--n_embd", type=int, default=256)
    p.add_argument("--n_head", type=int, default=4)
    p.add_argument("--block", "--T", dest="T", type=int, default=128)
    p.add_argument("--batch", "--B", dest="B", type=int, default=8)
    p.add_argument("--vocab", type=int, default=2048)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--json", action="store_true", help="print one JSON line")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(a.seed)

    model = GPT(a.vocab, a.T, a.n_layer, a.n_embd, a.n_head)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95),
                            eps=1e-8, weight_decay=0.1)
    gen = torch.Generator().manual_seed(a.seed)
    data = torch.randint(0, a.vocab, (a.B, a.T + 1), generator=gen)
    x, y = data[:, :-1].contiguous(), data[:, 1:].contiguous()

    def step():
        loss = model(x, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    losses, times = [], []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        losses.append(step())
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)

    ms = statistics.median(times) * 1000
    result = {
        "impl": "pytorch",
        "threads": a.threads,
        "ms_per_step": round(ms, 3),
        "ms_per_step_min": round(min(times) * 1000, 3),
        "tokens_per_s": round(a.B * a.T / (ms / 1000), 1),
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "matmul_gflop_per_step": round(matmul_gflop_per_step(a.B, a.T, a.n_embd, a.n_layer, a.n_head, a.vocab), 4),
        "torch_version": torch.__version__,
        "params": sum(t.numel() for t in model.parameters()),
    }
    if a.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>22}: {v}")


if __name__ == "__main__":
    main()
