#!/usr/bin/env python3
"""Reference logits for a Llama GGUF (SmolLM2-135M-Instruct), independent of grlhf: weights
dequantized by `gguf.quants`, the numpy forward of reference/data.md Appendix 2 (adjacent-pair
RoPE on the GGUF's permuted q/k, as llama.cpp computes it; data.md measured it within 0.040 of
llama.cpp on an F32 copy), token ids from Hugging Face `tokenizers` built from the GGUF's
vocabulary and merges (Digits(individual) + ByteLevel, as llama.cpp's smollm pre-tokenizer).

Not run by the tests. It writes the fixture that Tests/GRLHFTests/SmolLM2Tests.swift checks
when the model has been fetched (`make models`):

    python3 -m venv .cache/gguf-venv
    .cache/gguf-venv/bin/pip install gguf==0.19.0 numpy tokenizers
    .cache/gguf-venv/bin/python scripts/gguf_reference.py \
        .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf Tests/GRLHFTests/Fixtures/gguf/smollm2_reference.json

About 5 s to dequantize and 1-2 s per prompt on 2 cores.
"""
import hashlib
import json
import sys

import numpy as np
from gguf import GGUFReader, GGUFValueType
from gguf.quants import dequantize
from tokenizers import Tokenizer, models, pre_tokenizers, decoders

SYSTEM = None  # taken from the chat template below
PROMPTS = [
    ("chat", "What is the capital of France?"),
    ("chat", "Write a haiku about the sea."),
    ("chat", "What is 12 + 30?"),
    ("raw", "Hello world 2024"),
    ("raw", "The quick brown fox jumps over the lazy dog. It's 3:45pm, isn't it?"),
]


def field(r, key):
    f = r.fields[key]
    t = f.types[0]
    if t == GGUFValueType.ARRAY:
        if f.types[1] == GGUFValueType.STRING:
            return [bytes(f.parts[i]).decode() for i in f.data]
        return [f.parts[i].tolist()[0] for i in f.data]
    if t == GGUFValueType.STRING:
        return bytes(f.parts[f.data[0]]).decode()
    return f.parts[f.data[0]].tolist()[0]


def main(path, out):
    r = GGUFReader(path)
    W = {t.name: dequantize(t.data, t.tensor_type).astype(np.float32).reshape([int(x) for x in reversed(t.shape)])
         for t in r.tensors}
    L = field(r, "llama.block_count"); H = field(r, "llama.embedding_length")
    nh = field(r, "llama.attention.head_count"); nkv = field(r, "llama.attention.head_count_kv")
    D = H // nh; eps = field(r, "llama.attention.layer_norm_rms_epsilon"); base = field(r, "llama.rope.freq_base")
    head = W.get("output.weight", W["token_embd.weight"])

    tokens = field(r, "tokenizer.ggml.tokens"); types = field(r, "tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ")) for m in field(r, "tokenizer.ggml.merges")]
    tok = Tokenizer(models.BPE({t: i for i, t in enumerate(tokens)}, merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([t for t, ty in zip(tokens, types) if ty == 3])
    template = field(r, "tokenizer.chat_template")
    start = template.index("<|im_start|>system\n") + len("<|im_start|>system\n")
    system = template[start:template.index("<|im_end|>", start)]

    def rms(x, w): return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w

    def rope(x, pos):  # adjacent pairs (llama.cpp NORM mode) on GGUF-permuted weights
        inv = base ** (-np.arange(0, D, 2) / D); ang = pos[:, None] * inv[None, :]
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        o = np.empty_like(x); x0, x1 = x[..., 0::2], x[..., 1::2]
        o[..., 0::2] = x0 * c - x1 * s; o[..., 1::2] = x0 * s + x1 * c
        return o

    def forward(ids):
        T = len(ids); x = W["token_embd.weight"][ids]; pos = np.arange(T, dtype=np.float64)
        mask = np.triu(np.full((T, T), -np.inf), 1)
        for l in range(L):
            p = f"blk.{l}."; h = rms(x, W[p + "attn_norm.weight"])
            q = rope((h @ W[p + "attn_q.weight"].T).reshape(T, nh, D), pos)
            k = rope((h @ W[p + "attn_k.weight"].T).reshape(T, nkv, D), pos)
            v = (h @ W[p + "attn_v.weight"].T).reshape(T, nkv, D)
            k, v = np.repeat(k, nh // nkv, 1), np.repeat(v, nh // nkv, 1)
            a = np.einsum("thd,shd->hts", q, k) / np.sqrt(D) + mask
            a = np.exp(a - a.max(-1, keepdims=True)); a /= a.sum(-1, keepdims=True)
            x = x + np.einsum("hts,shd->thd", a, v).reshape(T, H) @ W[p + "attn_output.weight"].T
            h = rms(x, W[p + "ffn_norm.weight"]); g = h @ W[p + "ffn_gate.weight"].T; u = h @ W[p + "ffn_up.weight"].T
            x = x + ((g / (1 + np.exp(-g))) * u) @ W[p + "ffn_down.weight"].T
        return rms(x, W["output_norm.weight"]) @ head.T

    cases = []
    for kind, text in PROMPTS:
        full = (f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"
                if kind == "chat" else text)
        ids = tok.encode(full).ids
        logits = forward(np.array(ids)).astype(np.float64)
        positions = sorted({0, len(ids) // 2, len(ids) - 1})
        rows = []
        for t in positions:
            top = np.argsort(-logits[t])[:5]
            rows.append({"position": t, "top5_ids": [int(i) for i in top], "top5_logits": [float(logits[t, i]) for i in top]})
        # greedy continuation for chat prompts (no cache; a few tokens)
        greedy = []
        if kind == "chat":
            seq = list(ids)
            for _ in range(8):
                nxt = int(np.argmax(forward(np.array(seq))[-1])); greedy.append(nxt); seq.append(nxt)
                if nxt == 2: break
        cases.append({"kind": kind, "text": text, "rendered": full, "ids": ids, "positions": rows,
                      "greedy": greedy, "greedy_text": tok.decode(greedy)})
        print(kind, repr(text), len(ids), "tokens; last top-5", rows[-1]["top5_ids"], [round(v, 3) for v in rows[-1]["top5_logits"]],
              "greedy", repr(tok.decode(greedy)))
    sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
    json.dump({"model": path.split("/")[-1], "model_sha256": sha, "made_by": "scripts/gguf_reference.py (gguf 0.19.0 + numpy + tokenizers)",
               "cases": cases}, open(out, "w"), indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
