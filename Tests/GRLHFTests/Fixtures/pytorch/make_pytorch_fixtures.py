#!/usr/bin/env python3
"""Writes the PyTorch checkpoint fixtures used by Tests/GRLHFTests/PyTorchCheckpointTests.swift.

Real torch.save files, each in both formats (zip, the default; legacy, with
_use_new_zipfile_serialization=False), beside the float32 values they must load as
(`t.float().contiguous()` computed by torch, written with the `safetensors` package):
  mixed_{zip,legacy}.pth    float32/float16/bfloat16/float64/int64/int32/int16/int8/uint8/bool,
                            a transposed view, a column-strided view and an offset view of one
                            storage (so several tensors share it), a 0-d tensor, an empty tensor,
                            an nn.Parameter, a nested dict, and non-tensor values (skipped)
  mixed_expected.safetensors
  module_{zip,legacy}.pth   an nn.Module state_dict (OrderedDict with _metadata, BatchNorm's
                            int64 num_batches_tracked) after one training-mode forward
  module_expected.safetensors
  vit_pytorch_model.bin     ../vit/model/model.safetensors saved with torch.save (zip), for the
                            ModelDirectory pytorch_model.bin fallback
Hostile files (made with the pickle module or torch, never loaded here):
  evil_os_system.pkl        GLOBAL os.system + REDUCE, written by hand (protocol 2)
  evil_posix_system.pkl     pickle.dumps of an object whose __reduce__ is os.system
  evil_eval_p4.pkl          builtins.eval through STACK_GLOBAL in a protocol-4 frame
  evil_getattr.pkl          GLOBAL __builtin__.getattr (Python 2 spelling)
  evil_zip.pth              a torch-style zip whose data.pkl calls os.system
  linear_{zip,legacy}.pth   torch.save(nn.Linear(2, 2)): a whole module, not a state dict
The real EfficientNet-Lite0 file (scripts/fetch_models.sh puts it in .cache/models), when present:
  efficientnet_spot.json    tensor count, value count, and per chosen tensor its shape, first
                            values, last value and float64 sum, read by the numpy-only reader of
                            shared/reference/data.md Appendix 1 (no torch involved)

Usage: /work/main/.cache/bench-venv/bin/python Tests/GRLHFTests/Fixtures/pytorch/make_pytorch_fixtures.py
(torch, numpy and safetensors; torch 2.13.0+cpu made the committed files).
"""
import collections
import hashlib
import io
import json
import os
import pickle
import struct
import zipfile

import numpy as np
import torch
from safetensors.numpy import save_file
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))


def out(name):
    return os.path.join(HERE, name)


def save_both(obj, stem):
    torch.save(obj, out(f"{stem}_zip.pth"))
    torch.save(obj, out(f"{stem}_legacy.pth"), _use_new_zipfile_serialization=False)


def flatten(d, prefix=""):
    """The names and float32 values grlhf must return: dicts flattened with dots, non-tensors skipped."""
    for k, v in d.items():
        if isinstance(v, torch.Tensor):
            yield prefix + str(k), v.detach().float().contiguous().numpy()
        elif isinstance(v, dict):
            yield from flatten(v, prefix + str(k) + ".")


def write_expected(d, name):
    save_file(collections.OrderedDict(flatten(d)), out(name))


def mixed():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(3, 4, generator=g)
    flat = torch.arange(10, dtype=torch.float32) * 0.25 - 1
    return {
        "f32": base,
        "transposed": base.t(),                    # shares base's storage, strides (1, 4)
        "columns": base[:, 1::2],                  # strides (4, 2), offset 1
        "flat": flat,
        "offset_view": flat[3:7],                  # offset 3 into flat's storage
        "row": flat.view(2, 5)[1],                 # offset 5, shares it too
        "f16": torch.tensor([[0.0, -0.0, 1.5], [65504.0, 6.1e-5, -2.0 ** -24]], dtype=torch.float16),
        "bf16": torch.tensor([1.0, -3.140625, 1e30, -1e-30, 0.0078125], dtype=torch.bfloat16),
        "f64": torch.tensor([[1.0 / 3.0, -1e-50], [1e300, 2.5]], dtype=torch.float64),
        "f64_view": torch.arange(12, dtype=torch.float64).view(3, 4).t()[1:],
        "i64": torch.tensor([-3, 0, 7, 2 ** 40 + 1, -(2 ** 62)], dtype=torch.int64),
        "i32": torch.tensor([-2 ** 31, 5, 2 ** 31 - 1], dtype=torch.int32),
        "i16": torch.tensor([-32768, 12, 32767], dtype=torch.int16),
        "i8": torch.tensor([-128, -1, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 200, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "param": torch.nn.Parameter(torch.tensor([0.5, -0.25])),
        "nested": {"inner": torch.tensor([[1.0, 2.0]]), "deeper": {"w": torch.tensor([9], dtype=torch.int64)}},
        "epoch": 7,
        "note": "not a tensor",
        "nothing": None,
        "numbers": [1, 2.5],
    }


def module():
    torch.manual_seed(1)
    m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    m.train()
    m(torch.randn(5, 3))                          # moves running stats, num_batches_tracked = 1
    return m.state_dict()


def evil():
    # By hand, so the global is spelled os.system (pickle writes os.system as posix.system).
    with open(out("evil_os_system.pkl"), "wb") as f:
        f.write(b"\x80\x02cos\nsystem\nq\x00X\x1a\x00\x00\x00touch /tmp/grlhf_pwned_pth\x85q\x01Rq\x02.")
    with open(out("evil_getattr.pkl"), "wb") as f:
        f.write(b"\x80\x02c__builtin__\ngetattr\nq\x00.")

    class System:
        def __reduce__(self):
            return (os.system, ("touch /tmp/grlhf_pwned_pth",))

    class Eval:
        def __reduce__(self):
            return (eval, ("__import__('os').system('touch /tmp/grlhf_pwned_pth')",))

    with open(out("evil_posix_system.pkl"), "wb") as f:
        f.write(pickle.dumps({"w": System()}, protocol=2))
    with open(out("evil_eval_p4.pkl"), "wb") as f:
        f.write(pickle.dumps({"w": Eval()}, protocol=4))
    with zipfile.ZipFile(out("evil_zip.pth"), "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": System()}, protocol=2))
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")
    torch.manual_seed(2)
    save_both(torch.nn.Linear(2, 2), "linear")


# data.md Appendix 1, verbatim in substance: a numpy-only reader of the legacy format.
DT = {"FloatStorage": np.float32, "LongStorage": np.int64, "IntStorage": np.int32,
      "HalfStorage": np.float16, "DoubleStorage": np.float64}


class _Storage:
    def __init__(s, typ, key, size):
        s.typ, s.key, s.size = typ, key, size


def _rebuild_tensor_v2(storage, offset, size, stride, *a):
    return ("T", storage, offset, tuple(size), tuple(stride))


class _U(pickle.Unpickler):
    def find_class(self, mod, name):
        if name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if mod == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if name.endswith("Storage"):
            return name
        raise pickle.UnpicklingError(f"{mod}.{name}")

    def persistent_load(self, pid):
        return self.storages.setdefault(pid[2], _Storage(pid[1], pid[2], pid[4]))


def numpy_legacy_load(path):
    f = open(path, "rb")
    pickle.load(f)
    pickle.load(f)
    pickle.load(f)
    u = _U(f)
    u.storages = {}
    obj = u.load()
    keys = pickle.load(f)
    data = {}
    for k in keys:
        st = u.storages[k]
        n = struct.unpack("<q", f.read(8))[0]
        dt = np.dtype(DT[st.typ])
        data[k] = np.frombuffer(f.read(n * dt.itemsize), dtype=dt)
    result = collections.OrderedDict()
    for name, (_, st, off, size, stride) in obj.items():
        base = data[st.key]
        result[name] = (np.array(np.lib.stride_tricks.as_strided(base[off:], shape=size, strides=[s * base.itemsize for s in stride]))
                        if size else base[off:off + 1].reshape(()))
    return result


def efficientnet():
    path = os.path.join(ROOT, ".cache", "models", "efficientnet-lite0-57934424.pth")
    if not os.path.exists(path):
        print(f"skipped efficientnet_spot.json: {path} is missing (run scripts/fetch_models.sh)")
        return
    w = numpy_legacy_load(path)
    names = ["_conv_stem.weight", "_bn0.running_var", "_bn0.num_batches_tracked",
             "_blocks.5._depthwise_conv.weight", "_blocks.15._project_conv.weight", "_fc.weight", "_fc.bias"]
    spot = {
        "sha256": hashlib.sha256(open(path, "rb").read()).hexdigest(),
        "tensors": len(w),
        "values": int(sum(a.size for a in w.values())),
        "first_names": list(w)[:3],
        "last_name": list(w)[-1],
        "spot": {n: {"shape": list(w[n].shape),
                     "first": [float(x) for x in w[n].reshape(-1)[:5].astype(np.float32)],
                     "last": float(w[n].reshape(-1)[-1].astype(np.float32)),
                     "sum": float(w[n].astype(np.float64).sum())} for n in names},
    }
    with open(out("efficientnet_spot.json"), "w") as f:
        json.dump(spot, f, indent=1)
        f.write("\n")


def main():
    torch.manual_seed(0)
    d = mixed()
    save_both(d, "mixed")
    write_expected(d, "mixed_expected.safetensors")
    sd = module()
    save_both(sd, "module")
    write_expected(sd, "module_expected.safetensors")
    vit = load_file(os.path.join(HERE, "..", "vit", "model", "model.safetensors"))
    torch.save(vit, out("vit_pytorch_model.bin"))
    evil()
    efficientnet()
    for name in sorted(os.listdir(HERE)):
        print(f"{os.path.getsize(out(name)):8d} {name}")


if __name__ == "__main__":
    main()
