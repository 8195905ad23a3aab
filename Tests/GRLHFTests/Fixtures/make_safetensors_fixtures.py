#!/usr/bin/env python3
"""Writes the safetensors fixtures used by Tests/GRLHFTests/SafetensorsTests.swift.

safetensors/dtypes.safetensors: F16 and BF16 tensors, each beside the exact float32 values
(F32) they must decode to; written byte by byte here, since numpy has no bfloat16.
  f16, f16_expected   [3, 4]: zeros of both signs, normals, the largest finite, the smallest
                              normal, subnormals, +-inf, a NaN
  bf16, bf16_expected [2, 5]: the same kinds of values in bfloat16
safetensors/reference.safetensors: written by the reference implementation (the `safetensors`
package) with metadata; grlhf's writer must reproduce it byte for byte. Skipped, keeping the
committed file, when the package is missing.

Usage (numpy required): python3 Tests/GRLHFTests/Fixtures/make_safetensors_fixtures.py
"""
import json
import os
import struct

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "safetensors")


def write_safetensors(path, tensors):
    """tensors: list of (name, dtype string, shape, raw little-endian bytes), in file order."""
    header, offset = {}, 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(t[3] for t in tensors))


def dtypes_fixture():
    f16_bits = np.array([
        0x0000, 0x8000, 0x3C00, 0xC500,  # 0, -0, 1, -5
        0x7BFF, 0x0400, 0x0001, 0x83FF,  # 65504, 2^-14, 2^-24 (smallest subnormal), -(largest subnormal)
        0x7C00, 0xFC00, 0x7E00, 0x3555,  # inf, -inf, NaN, 0.333...
    ], dtype="<u2")
    f16_expected = f16_bits.view("<f2").astype("<f4")  # numpy's own (exact) widening

    bf16_bits = np.array([
        0x0000, 0x8000, 0x3F80, 0xC0A0, 0x4049,  # 0, -0, 1, -5, 3.140625
        0x7F7F, 0x0001, 0x807F, 0x7F80, 0xFF80,  # largest finite, smallest subnormal, -(largest subnormal), inf, -inf
    ], dtype="<u2")
    bf16_expected = (bf16_bits.astype("<u4") << 16).view("<f4")  # bfloat16 is a float32's top half

    assert np.isnan(f16_expected[10]) and np.signbit(f16_expected[1]) and f16_expected[6] == 2.0 ** -24
    assert bf16_expected[6] == 2.0 ** -133 and np.isinf(bf16_expected[8])

    path = os.path.join(OUT, "dtypes.safetensors")
    write_safetensors(path, [
        ("f16", "F16", [3, 4], f16_bits.tobytes()),
        ("f16_expected", "F32", [3, 4], f16_expected.tobytes()),
        ("bf16", "BF16", [2, 5], bf16_bits.tobytes()),
        ("bf16_expected", "F32", [2, 5], bf16_expected.tobytes()),
    ])
    try:  # cross-check the hand-written file and both widenings with the reference reader
        import torch
        from safetensors.torch import load_file
    except ImportError:
        return
    loaded = load_file(path)
    for name in ("f16", "bf16"):
        widened, expected = loaded[name].float().numpy(), loaded[name + "_expected"].numpy()
        np.testing.assert_array_equal(widened, expected)  # NaN matches NaN
        assert (np.signbit(widened) == np.signbit(expected)).all(), name


def reference_fixture():
    try:
        from safetensors.numpy import save_file
    except ImportError:
        print("safetensors not installed; keeping the committed reference.safetensors")
        return
    # All F32, so the reference writer orders them by name; values are exact in float32.
    save_file({
        "bias": np.array([0.5, -1.25, 3.0], dtype="<f4"),
        "empty": np.zeros((0, 3), dtype="<f4"),
        "scalar": np.array(-7.75, dtype="<f4"),
        "weight": (np.arange(6, dtype="<f4") * 0.25 - 1.0).reshape(2, 3),
    }, os.path.join(OUT, "reference.safetensors"), metadata={"format": "np"})


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    dtypes_fixture()
    reference_fixture()
