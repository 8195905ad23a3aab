"""Python bindings for grlhf (Generative RLHF-V on the CPU) over its C ABI (ctypes).

>>> import numpy as np, grlhf
>>> with grlhf.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3)) as t:
...     t.shape
(2, 3)

Every failing call raises :class:`grlhf.Error` carrying the C status and message.
"""

from __future__ import annotations

import ctypes
import os
from typing import Mapping, Tuple, Union

import numpy as np

from . import _lib
from ._lib import ABI_VERSION, Error
from ._tensor import Tensor
from .models import Generation, ImageInfo, Model, Tokenizer, chatml_user_prompt
from .training import (DPOTrainer, GRPOTrainer, PPOTrainer, Reward, RewardModel, RewardModelTrainer,
                       SFTTrainer, Trainer)
from .judge import Judge
from .pipeline import Pipeline, run_pipeline

__all__ = [
    "ABI_VERSION", "Error", "Tensor", "version", "abi_version", "set_threads", "get_threads",
    "save_safetensors", "load_safetensors", "live_handles",
    "Model", "ImageInfo", "Tokenizer", "Generation", "chatml_user_prompt",
    "Trainer", "SFTTrainer", "RewardModel", "RewardModelTrainer", "DPOTrainer", "GRPOTrainer", "PPOTrainer",
    "Reward", "Judge", "Pipeline", "run_pipeline",
]
__version__ = "0.1.0"

_c = _lib.lib
_float_p = ctypes.POINTER(ctypes.c_float)


def version() -> str:
    """The loaded library's version, e.g. "0.1.0"."""
    return _c.grlhf_version().decode()


def abi_version() -> int:
    """The loaded library's C ABI version (equal to :data:`ABI_VERSION`, checked at import)."""
    return int(_c.grlhf_abi_version())


def set_threads(threads: int, blas_threads: int = 1) -> None:
    """Sets grlhf's threads (elementwise kernels, attention, large matrix products split into
    single-threaded BLAS pieces) and OpenBLAS's own threads, each 1..256. Raise ``threads``;
    leave ``blas_threads`` at 1 unless grlhf itself runs on one thread. Process-wide."""
    _c.grlhf_set_threads(blas_threads, threads)


def get_threads() -> Tuple[int, int]:
    """The current ``(threads, blas_threads)``, in :func:`set_threads` order."""
    blas, compute = ctypes.c_int32(), ctypes.c_int32()
    _c.grlhf_get_threads(ctypes.byref(blas), ctypes.byref(compute))
    return compute.value, blas.value


def live_handles() -> int:
    """Handles of every kind created and not yet freed (for leak checks)."""
    return int(_c.grlhf_live_handles())


def _path_bytes(path: Union[str, "os.PathLike[str]"]) -> bytes:
    return os.fspath(path).encode("utf-8")


def save_safetensors(path: Union[str, "os.PathLike[str]"],
                     tensors: Mapping[str, Union[np.ndarray, Tensor]]) -> None:
    """Writes ``tensors`` (name -> array or Tensor, in mapping order) as float32 to a
    .safetensors file. Arrays of other dtypes are converted to float32."""
    handle = ctypes.c_void_p()
    _c.grlhf_tensor_set_create(ctypes.byref(handle))
    try:
        for name, value in tensors.items():
            if not isinstance(name, str):
                raise TypeError(f"tensor names must be str, got {type(name).__name__}")
            if isinstance(value, Tensor):
                _c.grlhf_tensor_set_add(handle, name.encode("utf-8"), value.handle)
            else:
                with Tensor(value) as t:
                    _c.grlhf_tensor_set_add(handle, name.encode("utf-8"), t.handle)
        _c.grlhf_safetensors_save(_path_bytes(path), handle)
    finally:
        _c.grlhf_tensor_set_free(handle)


def load_safetensors(path: Union[str, "os.PathLike[str]"]) -> dict[str, np.ndarray]:
    """Reads every tensor of a .safetensors file as float32 numpy arrays, in file order."""
    handle = ctypes.c_void_p()
    _c.grlhf_safetensors_load(_path_bytes(path), ctypes.byref(handle))
    try:
        count = ctypes.c_int64()
        _c.grlhf_tensor_set_count(handle, ctypes.byref(count))
        result: dict[str, np.ndarray] = {}
        for i in range(count.value):
            name = ctypes.c_char_p()
            _c.grlhf_tensor_set_name(handle, i, ctypes.byref(name))
            key = name.value or b""
            tensor = ctypes.c_void_p()
            _c.grlhf_tensor_set_get(handle, key, ctypes.byref(tensor))
            with Tensor._from_handle(tensor.value) as t:
                result[key.decode("utf-8")] = t.numpy()
        return result
    finally:
        _c.grlhf_tensor_set_free(handle)
