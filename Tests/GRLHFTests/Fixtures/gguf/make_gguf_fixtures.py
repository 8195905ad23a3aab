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
"""
import os
import struct

import numpy as np
import gguf
from gguf import GGUFWriter, GGMLQuantizationType as T
from gguf.quants import quantize, dequantize

assert gguf.__version__ if hasattr(gguf, "__version__") else True
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


if __name__ == "__main__":
    write_quants()
    write_aligned()
    for f in sorted(os.listdir(here)):
        if not f.endswith(".py"):
            print(f, os.path.getsize(os.path.join(here, f)))
