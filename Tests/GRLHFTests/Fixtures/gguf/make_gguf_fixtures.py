#!/usr/bin/env python3
"""Writes the GGUF fixtures of Tests/GRLHFTests/GGUFTests.swift with the `gguf` package (llama.cpp's
gguf-py), the reference for GGUF layout and dequantization.

    python3 -m venv .cache/gguf-venv && .cache/gguf-venv/bin/pip install gguf==0.19.0 numpy
    .cache/gguf-venv/bin/python Tests/GRLHFTests/Fixtures/gguf/make_gguf_fixtures.py

Outputs (beside this script):
  quants.gguf      v3: metadata of every value type; tensors F32, F16, BF16, Q8_0, Q4_0, Q4_1 (each
                   quantized from floats by gguf.quants, and the quantized ones also as random raw
                   blocks), a 3-D tensor; default alignment 32.
  quants.expected  safetensors: for every tensor, gguf.quants.dequantize(...) as float32, shaped
                   like the tensor (ne reversed). Swift compares bit for bit.
  aligned64.gguf   v3 with general.alignment = 64, two small tensors.
  v2.gguf          aligned64.gguf with its version field set to 2 (v2 and v3 share the layout on
                   little-endian machines; GGUFWriter writes only v3).
  tiny_llama.gguf  a random 2-layer Llama in llama.cpp's names and layout (q/k rows permuted as
                   convert_hf_to_gguf.py does; Q8_0 embedding, Q4_1 matrices, F32 norms, an
                   untied F16 output.weight), and tiny_llama.expected (safetensors: "ids" as
                   floats and "logits" [T, V] of the numpy forward of reference/data.md
                   Appendix 2, adjacent-pair RoPE on the permuted weights, from the dequantized
                   weights).
"""
import os
import struct

import numpy as np
import gguf
from gguf import GGUFWriter, GGMLQuantizationType as T
from gguf.quants import quantize, dequantize

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20240607)


def raw_blocks(qtype, rows, blocks_per_row):
    """Random block bytes whose f16 scales (d, and m for Q4_1) are finite (NaN payloads are not
    compared), including subnormal and negative scales."""
    bs, ts = gguf.GGML_QUANT_SIZES[qtype]
    b = rng.integers(0, 256, size=(rows * blocks_per_row, ts), dtype=np.uint8)
    nscales = 2 if qtype == T.Q4_1 else 1
    for s in range(nscales):
        h = b[:, 2 * s:2 * s + 2].copy().view(np.uint16)
        # clear one exponent bit so the exponent is never all ones (no inf/NaN)
        h &= np.uint16(0xBFFF)
        b[:, 2 * s:2 * s + 2] = h.view(np.uint8)
    # a subnormal scale and a zero scale
    b[0, 0:2] = np.array([0x0001], dtype=np.uint16).view(np.uint8)
    b[-1, 0:2] = 0
    return b.reshape(rows, blocks_per_row * ts)


def write_quants():
    w = GGUFWriter(os.path.join(here, "quants.gguf"), arch="test")
    # metadata of every value type
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_float32("test.f32", 0.1)
    w.add_bool("test.bool", True)
    w.add_string("test.string", "héllo, GGUF ✓")
    w.add_uint64("test.u64", 18000000000000000000)
    w.add_int64("test.i64", -9000000000000000000)
    w.add_float64("test.f64", -2.5e300)
    w.add_array("test.array.i32", [1, -2, 3])
    w.add_array("test.array.str", ["a", "", "Ġthe"])
    w.add_array("test.array.f32", [0.5, -1.25])
    w.add_array("test.array.bool", [True, False])

    expected = {}

    def add(name, data, qtype, floats_shape):
        w.add_tensor(name, data, raw_dtype=qtype if qtype not in (T.F32, T.F16) else None)
        expected[name] = dequantize(data, qtype).astype(np.float32).reshape(floats_shape)

    f32 = rng.standard_normal((3, 5)).astype(np.float32)
    f32.flat[:5] = [np.inf, -0.0, np.float32(1e-45), -np.inf, 3.0]
    add("f32", f32, T.F32, (3, 5))
    f16_bits = rng.integers(0, 1 << 16, size=(4, 8), dtype=np.uint16)
    f16_bits.flat[:4] = [0x0001, 0x7C00, 0x8000, 0x03FF]  # subnormal, inf, -0, largest subnormal
    f16 = f16_bits.view(np.float16)
    f16 = np.where(np.isnan(f16), np.float16(1.5), f16)  # numpy may alter NaN payloads
    add("f16", f16, T.F16, (4, 8))
    bf16_bits = rng.integers(0, 1 << 16, size=(2, 16), dtype=np.uint16)
    bf16_bits.flat[:3] = [0x7FC0, 0xFF81, 0x0001]  # NaN, NaN with payload, subnormal
    add("bf16", bf16_bits.view(np.uint8).reshape(2, 32), T.BF16, (2, 16))

    x = (rng.standard_normal((3, 64)) * 3).astype(np.float32)
    x[0, :32] = 0  # an all-zero block
    add("q8_0", quantize(x, T.Q8_0), T.Q8_0, (3, 64))
    add("q4_0", quantize(x[:2], T.Q4_0), T.Q4_0, (2, 64))
    y = (rng.standard_normal((2, 96)) + 1).astype(np.float32)
    add("q4_1", quantize(y, T.Q4_1), T.Q4_1, (2, 96))
    for qtype, name in [(T.Q8_0, "q8_0.raw"), (T.Q4_0, "q4_0.raw"), (T.Q4_1, "q4_1.raw")]:
        add(name, raw_blocks(qtype, 4, 3), qtype, (4, 96))
    z = rng.standard_normal((2, 3, 32)).astype(np.float32)
    add("q8_0.3d", quantize(z, T.Q8_0), T.Q8_0, (2, 3, 32))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    write_safetensors(os.path.join(here, "quants.expected"), expected)


def write_safetensors(path, tensors):
    """A minimal F32 safetensors writer (the `safetensors` package is not needed)."""
    import json
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        b = np.ascontiguousarray(t, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def write_aligned():
    path = os.path.join(here, "aligned64.gguf")
    w = GGUFWriter(path, arch="test")
    w.add_custom_alignment(64)
    w.add_string("test.note", "alignment 64")
    w.add_tensor("a", np.arange(5, dtype=np.float32))
    w.add_tensor("b", quantize(np.linspace(-1, 1, 32, dtype=np.float32).reshape(1, 32), T.Q8_0), raw_dtype=T.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    data = bytearray(open(path, "rb").read())
    assert data[:4] == b"GGUF" and struct.unpack_from("<I", data, 4)[0] == 3
    struct.pack_into("<I", data, 4, 2)
    open(os.path.join(here, "v2.gguf"), "wb").write(bytes(data))


def hf_to_gguf_permute(w, n_head):
    """convert_hf_to_gguf.py's LlamaModel.permute: rows of each head reordered for adjacent-pair RoPE."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_tiny_llama():
    L, H, nh, nkv, F, V = 2, 64, 4, 2, 96, 80
    D, eps, base = H // nh, 1e-5, 10000.0
    path = os.path.join(here, "tiny_llama.gguf")
    w = GGUFWriter(path, arch="llama")
    w.add_block_count(L); w.add_context_length(128); w.add_embedding_length(H); w.add_feed_forward_length(F)
    w.add_head_count(nh); w.add_head_count_kv(nkv); w.add_layer_norm_rms_eps(eps); w.add_rope_freq_base(base)
    w.add_rope_dimension_count(D); w.add_vocab_size(V)
    W = {}

    def add(name, x, qtype):
        data = x if qtype in (T.F32, T.F16) else quantize(x, qtype)
        w.add_tensor(name, data, raw_dtype=qtype if qtype not in (T.F32, T.F16) else None)
        W[name] = dequantize(data, qtype).astype(np.float32).reshape(x.shape)

    g = lambda *shape: (rng.standard_normal(shape) * 0.2).astype(np.float32)
    add("token_embd.weight", g(V, H) * 5, T.Q8_0)
    for l in range(L):
        p = f"blk.{l}."
        add(p + "attn_norm.weight", (1 + g(H)), T.F32)
        add(p + "attn_q.weight", hf_to_gguf_permute(g(nh * D, H), nh), T.Q4_1)
        add(p + "attn_k.weight", hf_to_gguf_permute(g(nkv * D, H), nkv), T.Q4_1)
        add(p + "attn_v.weight", g(nkv * D, H), T.Q4_1)
        add(p + "attn_output.weight", g(H, nh * D), T.Q4_1)
        add(p + "ffn_norm.weight", (1 + g(H)), T.F32)
        add(p + "ffn_gate.weight", g(F, H), T.Q4_1)
        add(p + "ffn_up.weight", g(F, H), T.Q4_1)
        add(p + "ffn_down.weight", g(H, F), T.Q4_1)
    add("output_norm.weight", 1 + g(H), T.F32)
    add("output.weight", g(V, H).astype(np.float16), T.F16)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()

    def rms(x, wt): return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * wt

    def rope(x, pos):
        inv = base ** (-np.arange(0, D, 2) / D); ang = pos[:, None] * inv[None, :]
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        o = np.empty_like(x); x0, x1 = x[..., 0::2], x[..., 1::2]
        o[..., 0::2] = x0 * c - x1 * s; o[..., 1::2] = x0 * s + x1 * c
        return o

    ids = np.array([3, 17, 42, 5, 79, 0, 11, 64, 23])
    T_ = len(ids); x = W["token_embd.weight"][ids].astype(np.float64); pos = np.arange(T_, dtype=np.float64)
    mask = np.triu(np.full((T_, T_), -np.inf), 1)
    for l in range(L):
        p = f"blk.{l}."; h = rms(x, W[p + "attn_norm.weight"])
        q = rope((h @ W[p + "attn_q.weight"].T).reshape(T_, nh, D), pos)
        k = rope((h @ W[p + "attn_k.weight"].T).reshape(T_, nkv, D), pos)
        v = (h @ W[p + "attn_v.weight"].T).reshape(T_, nkv, D)
        k, v = np.repeat(k, nh // nkv, 1), np.repeat(v, nh // nkv, 1)
        a = np.einsum("thd,shd->hts", q, k) / np.sqrt(D) + mask
        a = np.exp(a - a.max(-1, keepdims=True)); a /= a.sum(-1, keepdims=True)
        x = x + np.einsum("hts,shd->thd", a, v).reshape(T_, H) @ W[p + "attn_output.weight"].T
        h = rms(x, W[p + "ffn_norm.weight"]); gt = h @ W[p + "ffn_gate.weight"].T; u = h @ W[p + "ffn_up.weight"].T
        x = x + ((gt / (1 + np.exp(-gt))) * u) @ W[p + "ffn_down.weight"].T
    logits = rms(x, W["output_norm.weight"]) @ W["output.weight"].T
    write_safetensors(os.path.join(here, "tiny_llama.expected"),
                      {"ids": ids.astype(np.float32), "logits": logits.astype(np.float32)})


if __name__ == "__main__":
    write_quants()
    write_aligned()
    write_tiny_llama()
    for f in sorted(os.listdir(here)):
        if not f.endswith(".py"):
            print(f, os.path.getsize(os.path.join(here, f)))
