"""grlhf.Tensor: an immutable float32 tensor owned by the library (its own module so that
models.py can take and return tensors without importing the package)."""

from __future__ import annotations

import ctypes
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from . import _lib
from ._handle import _Handle

_c = _lib.lib
_float_p = ctypes.POINTER(ctypes.c_float)


class Tensor(_Handle):
    """An immutable float32 tensor owned by the library.

    Build one from anything numpy can turn into an array (converted to contiguous float32);
    read it back with :meth:`numpy`. The handle is freed by :meth:`close`, by leaving a ``with``
    block, or by the garbage collector, whichever comes first, and exactly once.
    """

    _free = staticmethod(lambda h: _c.grlhf_tensor_free(h))

    def __init__(self, array: Union[np.ndarray, Sequence, float]) -> None:
        # asarray, not ascontiguousarray: the latter turns 0-d arrays into 1-d ones.
        values = np.asarray(array, dtype=np.float32, order="C")
        shape = (ctypes.c_int64 * max(values.ndim, 1))(*values.shape)
        handle = ctypes.c_void_p()
        _c.grlhf_tensor_create(values.ctypes.data_as(_float_p), shape, values.ndim, ctypes.byref(handle))
        self._adopt(handle.value)

    @classmethod
    def _from_handle(cls, handle: int) -> "Tensor":
        t = cls.__new__(cls)
        t._adopt(handle)
        return t

    @property
    def shape(self) -> Tuple[int, ...]:
        rank = ctypes.c_int32()
        _c.grlhf_tensor_rank(self.handle, ctypes.byref(rank))
        dims = (ctypes.c_int64 * max(rank.value, 1))()
        _c.grlhf_tensor_shape(self.handle, dims, rank.value)
        return tuple(dims[: rank.value])

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        count = ctypes.c_int64()
        _c.grlhf_tensor_count(self.handle, ctypes.byref(count))
        return count.value

    def numpy(self) -> np.ndarray:
        """A float32 copy of the values."""
        out = np.empty(self.shape, dtype=np.float32)
        _c.grlhf_tensor_copy_to(self.handle, out.ctypes.data_as(_float_p), out.size)
        return out

    def __array__(self, dtype: object = None, copy: Optional[bool] = None) -> np.ndarray:
        if copy is False:
            raise ValueError("grlhf.Tensor values live in the library; numpy() makes a copy")
        values = self.numpy()
        return values if dtype is None else values.astype(dtype, copy=False)

    def __repr__(self) -> str:
        if self.closed:
            return "grlhf.Tensor(closed)"
        return f"grlhf.Tensor(shape={self.shape})"
