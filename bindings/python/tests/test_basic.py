"""Tests of the Python bindings: round trips, errors, ABI check, handle lifetimes, and
interoperability with the reference `safetensors` package."""

from __future__ import annotations

import ctypes
import gc
import re
from pathlib import Path

import numpy as np
import pytest

import grlhf
from grlhf import _lib

HEADER = Path(__file__).resolve().parents[3] / "include" / "grlhf.h"


def last_error() -> bytes:
    return _lib.lib.grlhf_last_error()


# ---- library, versions, signatures ----------------------------------------------------------

def test_version_and_abi() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", grlhf.version())
    assert grlhf.version() == grlhf.__version__
    assert grlhf.abi_version() == grlhf.ABI_VERSION == 2


@pytest.mark.skipif(not HEADER.is_file(), reason="not run from the repository")
def test_every_header_function_is_declared() -> None:
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)  # drop comments
    declarations = re.findall(r"^([A-Za-z_][\w ]*?[ *]+)(grlhf_\w+)\(([^)]*)\);", text, flags=re.M)
    assert {name for _, name, _ in declarations} == set(_lib.SIGNATURES)
    returns = {"void": None, "const char *": ctypes.c_char_p, "int32_t": ctypes.c_int32,
               "int64_t": ctypes.c_int64, "grlhf_status": ctypes.c_int32}
    for result, name, params in declarations:
        func = getattr(_lib.lib, name)
        result = result.strip()
        assert func.restype is returns[result], name
        assert (func.errcheck is not None) == (result == "grlhf_status"), name
        arity = 0 if params.strip() == "void" else params.count(",") + 1
        assert func.argtypes is not None and len(func.argtypes) == arity, name


def test_abi_mismatch_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_lib, "ABI_VERSION", 999)
    with pytest.raises(ImportError, match="ABI version 2.*need version 999"):
        _lib.load(_lib.path)


def test_library_path_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRLHF_LIBRARY", "/nowhere/libgrlhf.so")
    assert _lib.find_library() == "/nowhere/libgrlhf.so"
    with pytest.raises(ImportError, match="cannot load"):
        _lib.load(_lib.find_library())


def test_library_path_from_environment_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # `make install PREFIX=$VIRTUAL_ENV` puts the library where an installed package finds it
    # without GRLHF_LIBRARY; it comes before the repository's build outputs.
    import sys
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "libgrlhf.so").write_bytes(b"")
    monkeypatch.delenv("GRLHF_LIBRARY", raising=False)
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert _lib.find_library() == str(tmp_path / "lib" / "libgrlhf.so")
    (tmp_path / "lib" / "libgrlhf.so").unlink()
    assert _lib.find_library() != str(tmp_path / "lib" / "libgrlhf.so")


def test_threads() -> None:
    before = grlhf.get_threads()
    try:
        grlhf.set_threads(2, blas_threads=3)
        assert grlhf.get_threads() == (2, 3)
        grlhf.set_threads(4)
        assert grlhf.get_threads() == (4, 1)
        with pytest.raises(grlhf.Error) as info:
            grlhf.set_threads(0)
        assert info.value.status == _lib.ERR_INVALID_ARGUMENT
        assert "1...256" in info.value.message
    finally:
        grlhf.set_threads(*before)


# ---- tensors --------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3), (2, 0, 4), (1, 2, 1, 2, 1, 2, 1, 2)])
def test_tensor_round_trip(shape: tuple) -> None:
    values = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with grlhf.Tensor(values) as t:
        assert t.shape == shape
        assert t.ndim == len(shape)
        assert t.size == values.size
        back = t.numpy()
        assert back.dtype == np.float32 and back.shape == shape
        assert np.array_equal(back.view(np.uint32), values.view(np.uint32))
        assert np.array_equal(np.asarray(t), values)


def test_tensor_converts_dtype_and_layout() -> None:
    values = np.arange(12, dtype=np.float64).reshape(3, 4).T  # not contiguous, not float32
    with grlhf.Tensor(values) as t:
        assert t.shape == (4, 3)
        assert np.array_equal(t.numpy(), values.astype(np.float32))
    with grlhf.Tensor([[1, 2], [3, 4]]) as t:
        assert t.numpy().tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with grlhf.Tensor(2.5) as t:
        assert t.shape == () and float(t.numpy()) == 2.5


def test_errors_carry_status_and_message() -> None:
    with pytest.raises(grlhf.Error) as info:
        grlhf.Tensor(np.zeros((1,) * 9, dtype=np.float32))
    error = info.value
    assert error.status == _lib.ERR_INVALID_ARGUMENT
    assert error.status_name == "invalid argument"
    assert "grlhf_tensor_create" in error.message and "rank 9" in error.message
    assert error.message in str(error)

    with pytest.raises(grlhf.Error) as info:
        grlhf.load_safetensors("/nonexistent/dir/model.safetensors")
    assert info.value.status == _lib.ERR_IO
    assert info.value.message


def test_misuse_is_reported_not_crashing() -> None:
    rank = ctypes.c_int32()
    with pytest.raises(grlhf.Error) as info:
        _lib.lib.grlhf_tensor_rank(None, ctypes.byref(rank))
    assert info.value.status == _lib.ERR_MISUSE
    t = grlhf.Tensor([1.0])
    handle = t.handle
    t.close()
    with pytest.raises(grlhf.Error, match="not a live grlhf_tensor") as info:
        _lib.lib.grlhf_tensor_rank(handle, ctypes.byref(rank))
    assert info.value.status == _lib.ERR_MISUSE


def test_close_is_idempotent_and_frees_exactly_once() -> None:
    base = grlhf.live_handles()
    t = grlhf.Tensor(np.ones(3, dtype=np.float32))
    assert grlhf.live_handles() == base + 1
    t.close()
    assert t.closed and grlhf.live_handles() == base
    assert last_error() == b""  # the free succeeded
    t.close()
    with t:
        pass
    del t
    gc.collect()
    # A second grlhf_tensor_free of the same handle would have left "ignored ..." here.
    assert last_error() == b""
    assert grlhf.live_handles() == base


def test_closed_tensor_refuses_use() -> None:
    t = grlhf.Tensor([1.0])
    t.close()
    assert "closed" in repr(t)
    with pytest.raises(ValueError, match="closed"):
        t.shape  # noqa: B018
    with pytest.raises(ValueError, match="closed"):
        t.numpy()


def test_finalizer_frees_dropped_tensors() -> None:
    base = grlhf.live_handles()
    for _ in range(1000):
        grlhf.Tensor(np.zeros((4, 4), dtype=np.float32))
    gc.collect()
    assert grlhf.live_handles() == base
    assert last_error() == b""


# ---- safetensors ----------------------------------------------------------------------------

def test_safetensors_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    tensors = {
        "model.embed_tokens.weight": rng.standard_normal((7, 5)).astype(np.float32),
        "scalar": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((0, 2), dtype=np.float32),
        "été": np.array([0.0, -0.0, np.inf, -np.inf, 1e-45], dtype=np.float32),
    }
    base = grlhf.live_handles()
    path = tmp_path / "a.safetensors"
    with grlhf.Tensor(tensors["scalar"]) as t:
        grlhf.save_safetensors(path, {**tensors, "scalar": t})
    loaded = grlhf.load_safetensors(path)
    assert list(loaded) == list(tensors)
    for name, values in tensors.items():
        assert loaded[name].shape == values.shape
        assert np.array_equal(loaded[name].view(np.uint32), values.view(np.uint32)), name
    assert grlhf.live_handles() == base


def test_save_rejects_bad_names(tmp_path: Path) -> None:
    with pytest.raises(grlhf.Error) as info:
        grlhf.save_safetensors(tmp_path / "b.safetensors", {"": np.zeros(1)})
    assert info.value.status == _lib.ERR_INVALID_ARGUMENT and "empty" in info.value.message
    with pytest.raises(TypeError):
        grlhf.save_safetensors(tmp_path / "b.safetensors", {1: np.zeros(1)})  # type: ignore[dict-item]


def test_corrupt_file_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes((1 << 40).to_bytes(8, "little") + b"{}")
    with pytest.raises(grlhf.Error) as info:
        grlhf.load_safetensors(path)
    assert info.value.status == _lib.ERR_INVALID_FORMAT and info.value.message


def test_grlhf_file_loads_in_safetensors_package(tmp_path: Path) -> None:
    st = pytest.importorskip("safetensors.numpy")
    rng = np.random.default_rng(2)
    tensors = {
        "a": rng.standard_normal((3, 4)).astype(np.float32),
        "b": np.array([np.nan, -0.0, np.inf, 1e-40, -3.0], dtype=np.float32),
        "c": np.array(1.25, dtype=np.float32),
        "d": np.zeros((2, 0, 3), dtype=np.float32),
    }
    path = tmp_path / "grlhf.safetensors"
    grlhf.save_safetensors(path, tensors)
    loaded = st.load_file(str(path))
    assert set(loaded) == set(tensors)
    for name, values in tensors.items():
        assert loaded[name].dtype == np.float32 and loaded[name].shape == values.shape, name
        assert np.array_equal(loaded[name].view(np.uint32), values.view(np.uint32)), name


def test_safetensors_package_file_loads_in_grlhf(tmp_path: Path) -> None:
    st = pytest.importorskip("safetensors.numpy")
    rng = np.random.default_rng(3)
    f16 = np.concatenate([
        rng.standard_normal(20).astype(np.float16),
        np.array([0.0, -0.0, np.inf, -np.inf, 6e-8, 65504.0, -65504.0], dtype=np.float16),
    ]).reshape(3, 9)
    tensors = {
        "f32": rng.standard_normal((4, 2)).astype(np.float32),
        "f16": f16,
        "scalar16": np.array(0.333, dtype=np.float16),
    }
    path = tmp_path / "reference.safetensors"
    st.save_file(tensors, str(path))
    loaded = grlhf.load_safetensors(path)
    assert set(loaded) == set(tensors)
    for name, values in tensors.items():
        expected = values.astype(np.float32)  # float16 -> float32 is exact
        assert loaded[name].dtype == np.float32 and loaded[name].shape == values.shape, name
        assert np.array_equal(loaded[name].view(np.uint32), expected.view(np.uint32)), name


def test_reserved_and_duplicate_names_are_refused(tmp_path) -> None:
    with pytest.raises(grlhf.Error) as info:
        grlhf.save_safetensors(str(tmp_path / "m.safetensors"), {"__metadata__": np.zeros(1, np.float32)})
    assert info.value.status == _lib.ERR_INVALID_ARGUMENT and "reserved" in info.value.message
    assert not (tmp_path / "m.safetensors").exists()
