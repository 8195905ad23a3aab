"""Finds and loads libgrlhf, declares the signature of every function in include/grlhf.h and
turns non-zero status codes into :class:`Error`.

The library is looked up in this order:

1. the ``GRLHF_LIBRARY`` environment variable (a path to the .so);
2. ``lib/libgrlhf.so`` under the running environment's prefix (``sys.prefix``): a virtual
   environment or conda environment that ``make install PREFIX=$VIRTUAL_ENV`` installed into;
3. the repository's build outputs ``.build/release/libgrlhf.so`` then
   ``.build/debug/libgrlhf.so``, found by walking up from this file (a checkout used in place);
4. the dynamic loader's search (``ctypes.util.find_library("grlhf")``: the ldconfig cache, e.g.
   after ``make install`` into /usr/local and ``ldconfig``);
5. ``/usr/local/lib/libgrlhf.so`` (``make install``'s default prefix before ``ldconfig``).

``grlhf._lib.path`` tells which one was loaded.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from pathlib import Path
from typing import Any, Callable, Optional

#: The ABI these bindings are written for; must equal GRLHF_ABI_VERSION of the loaded library.
ABI_VERSION = 2

#: Status codes (include/grlhf.h).
OK = 0
ERR_INVALID_ARGUMENT = -1
ERR_INVALID_FORMAT = -2
ERR_IO = -3
ERR_OUT_OF_MEMORY = -4
ERR_UNSUPPORTED = -5
ERR_MISUSE = -6
ERR_INTERNAL = -7
ERR_CANCELLED = -8
ERR_CALLBACK = -9


class Error(Exception):
    """A grlhf call failed. ``status`` is the C status code, ``message`` the library's text."""

    def __init__(self, status: int, message: str, status_name: str = "") -> None:
        super().__init__(f"{message} [{status_name or status}]" if message else status_name or str(status))
        self.status = status
        self.message = message
        self.status_name = status_name


# Marks functions returning grlhf_status (an int32_t): those raise Error on failure.
_status = "grlhf_status"
_handle = ctypes.c_void_p  # every opaque handle: grlhf_tensor *, grlhf_model *, ...
_i32, _i64 = ctypes.c_int32, ctypes.c_int64
_P = ctypes.POINTER



class SamplingParams(ctypes.Structure):
    """grlhf_sampling_params (include/grlhf.h)."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("temperature", ctypes.c_float),
        ("top_k", ctypes.c_int32),
        ("top_p", ctypes.c_float),
        ("max_new_tokens", ctypes.c_int64),
        ("seed", ctypes.c_uint64),
        ("stop_tokens", ctypes.POINTER(ctypes.c_int32)),
        ("n_stop_tokens", ctypes.c_int64),
    ]


_f32p, _i32p = _P(ctypes.c_float), _P(ctypes.c_int32)

#: The optimizer fields every trainer params struct ends with.
_OPTIMIZER_FIELDS = [
    ("learning_rate", ctypes.c_float),
    ("weight_decay", ctypes.c_float),
    ("warmup_ratio", ctypes.c_float),
    ("schedule", ctypes.c_int32),
    ("max_grad_norm", ctypes.c_float),
    ("beta1", ctypes.c_float),
    ("beta2", ctypes.c_float),
]


class SFTParams(ctypes.Structure):
    """grlhf_sft_params (include/grlhf.h)."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("steps", ctypes.c_int64),
        ("batch_size", ctypes.c_int64),
        ("gradient_accumulation", ctypes.c_int64),
        ("seed", ctypes.c_uint64),
    ] + _OPTIMIZER_FIELDS


class RMParams(ctypes.Structure):
    """grlhf_rm_params (include/grlhf.h)."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("steps", ctypes.c_int64),
        ("batch_size", ctypes.c_int64),
        ("seed", ctypes.c_uint64),
        ("regularization", ctypes.c_float),
        ("freeze_vision_tower", ctypes.c_int32),
    ] + _OPTIMIZER_FIELDS


class DPOParams(ctypes.Structure):
    """grlhf_dpo_params (include/grlhf.h)."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("steps", ctypes.c_int64),
        ("batch_size", ctypes.c_int64),
        ("seed", ctypes.c_uint64),
        ("beta", ctypes.c_float),
    ] + _OPTIMIZER_FIELDS


class GRPOParams(ctypes.Structure):
    """grlhf_grpo_params (include/grlhf.h)."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("steps", ctypes.c_int64),
        ("prompts_per_step", ctypes.c_int64),
        ("group_size", ctypes.c_int64),
        ("epochs", ctypes.c_int64),
        ("mini_batches", ctypes.c_int64),
        ("seed", ctypes.c_uint64),
        ("clip", ctypes.c_float),
        ("kl_coefficient", ctypes.c_float),
        ("kl_estimator", ctypes.c_int32),
        ("mask_truncated", ctypes.c_int32),
        ("temperature", ctypes.c_float),
        ("top_k", ctypes.c_int32),
        ("top_p", ctypes.c_float),
        ("max_new_tokens", ctypes.c_int64),
        ("stop_tokens", _P(ctypes.c_int32)),
        ("n_stop_tokens", ctypes.c_int64),
    ] + _OPTIMIZER_FIELDS


class PPOParams(ctypes.Structure):
    """grlhf_ppo_params (include/grlhf.h)."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("steps", ctypes.c_int64),
        ("prompts_per_step", ctypes.c_int64),
        ("completions_per_prompt", ctypes.c_int64),
        ("epochs", ctypes.c_int64),
        ("mini_batches", ctypes.c_int64),
        ("seed", ctypes.c_uint64),
        ("clip", ctypes.c_float),
        ("value_clip", ctypes.c_float),
        ("reward_clip", ctypes.c_float),
        ("kl_coefficient", ctypes.c_float),
        ("gamma", ctypes.c_float),
        ("lambda", ctypes.c_float),
        ("whiten_advantages", ctypes.c_int32),
        ("temperature", ctypes.c_float),
        ("top_k", ctypes.c_int32),
        ("top_p", ctypes.c_float),
        ("max_new_tokens", ctypes.c_int64),
        ("stop_tokens", _P(ctypes.c_int32)),
        ("n_stop_tokens", ctypes.c_int64),
    ] + _OPTIMIZER_FIELDS + [("critic_" + name, kind) for name, kind in _OPTIMIZER_FIELDS]


class JudgeParams(ctypes.Structure):
    """grlhf_judge_params (include/grlhf.h)."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("template_path", ctypes.c_char_p),
        ("principles", ctypes.c_char_p),
        ("max_new_tokens", ctypes.c_int64),
        ("temperature", ctypes.c_float),
        ("seed", ctypes.c_uint64),
    ]


class GroupParams(ctypes.Structure):
    """grlhf_group_params (include/grlhf.h)."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("both_orders", ctypes.c_int32),
        ("parse_failure", ctypes.c_int32),
        ("aggregator", ctypes.c_int32),
        ("lone_response_reward", ctypes.c_float),
        ("incomplete_reward", ctypes.c_float),
    ]


class PipelineParams(ctypes.Structure):
    """grlhf_pipeline_params (include/grlhf.h)."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("preset", ctypes.c_char_p),
        ("config_json", ctypes.c_char_p),
        ("data_dir", ctypes.c_char_p),
        ("output_dir", ctypes.c_char_p),
    ]


class RewardGroup(ctypes.Structure):
    """grlhf_reward_group (include/grlhf.h): lent to a reward callback for one call."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("question", ctypes.c_char_p),
        ("image", ctypes.c_char_p),
        ("ground_truth", ctypes.c_char_p),
        ("count", ctypes.c_int64),
        ("completions", _P(ctypes.c_char_p)),
        ("tokens", _P(_P(ctypes.c_int32))),
        ("lengths", _P(ctypes.c_int64)),
        ("truncated", _P(ctypes.c_int32)),
    ]


#: grlhf_reward_fn and grlhf_metrics_fn.
REWARD_FN = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, _P(RewardGroup), _P(ctypes.c_float))
METRICS_FN = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                              _P(ctypes.c_char_p), _P(ctypes.c_double))
#: grlhf_log_fn.
LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)
_strings = _P(ctypes.c_char_p)

#: name -> (restype, argtypes) for every function declared in include/grlhf.h.
SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "grlhf_version": (ctypes.c_char_p, []),
    "grlhf_abi_version": (_i32, []),
    "grlhf_status_string": (ctypes.c_char_p, [_i32]),
    "grlhf_last_error": (ctypes.c_char_p, []),
    "grlhf_set_threads": (_status, [_i32, _i32]),
    "grlhf_get_threads": (_status, [_P(_i32), _P(_i32)]),
    "grlhf_tensor_create": (_status, [_P(ctypes.c_float), _P(_i64), _i32, _P(_handle)]),
    "grlhf_tensor_rank": (_status, [_handle, _P(_i32)]),
    "grlhf_tensor_shape": (_status, [_handle, _P(_i64), _i32]),
    "grlhf_tensor_count": (_status, [_handle, _P(_i64)]),
    "grlhf_tensor_data": (_status, [_handle, _P(_P(ctypes.c_float))]),
    "grlhf_tensor_copy_to": (_status, [_handle, _P(ctypes.c_float), _i64]),
    "grlhf_tensor_free": (None, [_handle]),
    "grlhf_tensor_set_create": (_status, [_P(_handle)]),
    "grlhf_tensor_set_add": (_status, [_handle, ctypes.c_char_p, _handle]),
    "grlhf_tensor_set_count": (_status, [_handle, _P(_i64)]),
    "grlhf_tensor_set_name": (_status, [_handle, _i64, _P(ctypes.c_char_p)]),
    "grlhf_tensor_set_get": (_status, [_handle, ctypes.c_char_p, _P(_handle)]),
    "grlhf_tensor_set_free": (None, [_handle]),
    "grlhf_safetensors_load": (_status, [ctypes.c_char_p, _P(_handle)]),
    "grlhf_safetensors_save": (_status, [ctypes.c_char_p, _handle]),
    "grlhf_model_load": (_status, [ctypes.c_char_p, _P(_handle)]),
    "grlhf_model_init": (_status, [ctypes.c_char_p, ctypes.c_uint64, _P(_handle)]),
    "grlhf_model_save": (_status, [_handle, ctypes.c_char_p]),
    "grlhf_model_free": (None, [_handle]),
    "grlhf_model_vocab_size": (_status, [_handle, _P(_i64)]),
    "grlhf_model_image_info": (_status, [_handle, _P(_i32), _P(_i64), _P(_i64)]),
    "grlhf_image_load": (_status, [_handle, ctypes.c_char_p, _P(_handle)]),
    "grlhf_model_logprobs": (_status, [_handle, _i32p, _i64, _handle, _f32p, _i64]),
    "grlhf_tokenizer_load": (_status, [ctypes.c_char_p, _P(_handle)]),
    "grlhf_tokenizer_free": (None, [_handle]),
    "grlhf_tokenizer_vocab_size": (_status, [_handle, _P(_i64)]),
    "grlhf_tokenizer_encode": (_status, [_handle, ctypes.c_char_p, _i32p, _i64, _P(_i64)]),
    "grlhf_tokenizer_decode": (_status, [_handle, _i32p, _i64, ctypes.c_char_p, _i64, _P(_i64)]),
    "grlhf_chatml_user_prompt": (_status, [ctypes.c_char_p, ctypes.c_char_p, _i64, _P(_i64)]),
    "grlhf_sampling_params_default": (_status, [_P(SamplingParams)]),
    "grlhf_generate_group": (_status, [_handle, _i32p, _i64, _handle, _i64, _P(SamplingParams),
                                       _P(_handle)]),
    "grlhf_generation_count": (_status, [_handle, _P(_i64)]),
    "grlhf_generation_tokens": (_status, [_handle, _i64, _P(_i32p), _P(_f32p), _P(_i64), _P(_i32)]),
    "grlhf_generation_free": (None, [_handle]),
    "grlhf_sft_params_default": (_status, [_P(SFTParams)]),
    "grlhf_rm_params_default": (_status, [_P(RMParams)]),
    "grlhf_dpo_params_default": (_status, [_P(DPOParams)]),
    "grlhf_grpo_params_default": (_status, [_P(GRPOParams)]),
    "grlhf_ppo_params_default": (_status, [_P(PPOParams)]),
    "grlhf_sft_trainer_create": (_status, [_handle, _handle, ctypes.c_char_p, _P(SFTParams), _P(_handle)]),
    "grlhf_rm_trainer_create": (_status, [_handle, _handle, ctypes.c_char_p, _P(RMParams), _P(_handle)]),
    "grlhf_dpo_trainer_create": (_status, [_handle, _handle, _handle, ctypes.c_char_p, _P(DPOParams),
                                           _P(_handle)]),
    "grlhf_grpo_trainer_create": (_status, [_handle, _handle, _handle, ctypes.c_char_p, _handle,
                                            _P(GRPOParams), _P(_handle)]),
    "grlhf_ppo_trainer_create": (_status, [_handle, _handle, _handle, _handle, ctypes.c_char_p, _handle,
                                           _P(PPOParams), _P(_handle)]),
    "grlhf_trainer_step": (_status, [_handle]),
    "grlhf_trainer_train": (_status, [_handle, _i64, METRICS_FN, ctypes.c_void_p]),
    "grlhf_trainer_progress": (_status, [_handle, _P(_i64), _P(_i64)]),
    "grlhf_trainer_metrics": (_status, [_handle, _i64, _strings, _P(ctypes.c_double), _i64, _P(_i64)]),
    "grlhf_trainer_set_metrics_path": (_status, [_handle, ctypes.c_char_p]),
    "grlhf_trainer_save_checkpoint": (_status, [_handle, ctypes.c_char_p]),
    "grlhf_trainer_resume": (_status, [_handle, ctypes.c_char_p]),
    "grlhf_trainer_free": (None, [_handle]),
    "grlhf_reward_model_create": (_status, [_handle, ctypes.c_uint64, _P(_handle)]),
    "grlhf_reward_model_load": (_status, [ctypes.c_char_p, _P(_handle)]),
    "grlhf_reward_model_save": (_status, [_handle, ctypes.c_char_p]),
    "grlhf_reward_model_score": (_status, [_handle, _handle, _i64, _strings, _strings, _strings, _f32p]),
    "grlhf_reward_model_free": (None, [_handle]),
    "grlhf_reward_create": (_status, [REWARD_FN, ctypes.c_void_p, _P(_handle)]),
    "grlhf_reward_from_reward_model": (_status, [_handle, _handle, _P(_handle)]),
    "grlhf_reward_rule": (_status, [ctypes.c_char_p, _P(_handle)]),
    "grlhf_reward_free": (None, [_handle]),
    "grlhf_set_callback_error": (None, [ctypes.c_char_p]),
    "grlhf_judge_params_default": (_status, [_P(JudgeParams)]),
    "grlhf_group_params_default": (_status, [_P(GroupParams)]),
    "grlhf_judge_create": (_status, [_handle, _handle, _P(JudgeParams), _P(_handle)]),
    "grlhf_judge_free": (None, [_handle]),
    "grlhf_judge_compare": (_status, [_handle, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                      _f32p, _f32p, _P(_i32), ctypes.c_char_p, _i64, _P(_i64)]),
    "grlhf_judge_score_group": (_status, [_handle, ctypes.c_char_p, ctypes.c_char_p, _strings, _P(ctypes.c_uint8),
                                          _i64, _P(GroupParams), _f32p, _P(_handle)]),
    "grlhf_comparisons_count": (_status, [_handle, _P(_i64)]),
    "grlhf_comparisons_get": (_status, [_handle, _i64, _P(_i64), _P(_i64), _f32p, _f32p, _P(_i32), _P(_i32),
                                        _P(ctypes.c_char_p)]),
    "grlhf_comparisons_free": (None, [_handle]),
    "grlhf_reward_from_judge": (_status, [_handle, _P(GroupParams), _P(_handle)]),
    "grlhf_judge_accuracy": (_status, [_handle, ctypes.c_char_p, _f32p, _f32p]),
    "grlhf_judge_trainer_create": (_status, [_handle, ctypes.c_char_p, _i32, _P(GRPOParams), _P(_handle)]),
    "grlhf_pipeline_params_default": (_status, [_P(PipelineParams)]),
    "grlhf_pipeline_create": (_status, [_P(PipelineParams), _P(_handle)]),
    "grlhf_pipeline_config_json": (_status, [_handle, ctypes.c_char_p, _i64, _P(_i64)]),
    "grlhf_pipeline_run": (_status, [_handle, LOG_FN, ctypes.c_void_p]),
    "grlhf_pipeline_summary_json": (_status, [_handle, ctypes.c_char_p, _i64, _P(_i64)]),
    "grlhf_pipeline_free": (None, [_handle]),
    "grlhf_live_handles": (_i64, []),
}


def find_library() -> str:
    """The path of libgrlhf to load (see the module docstring for the search order)."""
    explicit = os.environ.get("GRLHF_LIBRARY")
    if explicit:
        return explicit
    in_prefix = Path(sys.prefix) / "lib" / "libgrlhf.so"
    if in_prefix.is_file():
        return str(in_prefix)
    for directory in Path(__file__).resolve().parents:
        for config in ("release", "debug"):
            candidate = directory / ".build" / config / "libgrlhf.so"
            if candidate.is_file():
                return str(candidate)
    found = ctypes.util.find_library("grlhf")
    if found:
        return found
    default = Path("/usr/local/lib/libgrlhf.so")
    if default.is_file():
        return str(default)
    raise ImportError(
        "grlhf: cannot find libgrlhf.so; set GRLHF_LIBRARY to its path, or install it into this "
        f"environment (`make install PREFIX={sys.prefix}` in the repository), or build it there "
        "(`swift build -c release`)")


def _make_errcheck(lib: ctypes.CDLL) -> Callable[..., int]:
    # Reads the thread-local message right after the failing call, before any other grlhf call.
    def errcheck(status: int, func: Any, args: tuple) -> int:
        if status != OK:
            message = (lib.grlhf_last_error() or b"").decode("utf-8", "replace")
            name = (lib.grlhf_status_string(status) or b"").decode("utf-8", "replace")
            raise Error(status, message, name)
        return status
    return errcheck


def load(path: Optional[str] = None) -> ctypes.CDLL:
    """Loads the library, declares every signature and checks the ABI version.

    Raises ImportError when the library is missing, lacks a function, or has another ABI.
    """
    path = path or find_library()
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(f"grlhf: cannot load {path}: {e}") from e
    errcheck = _make_errcheck(lib)
    for name, (restype, argtypes) in SIGNATURES.items():
        try:
            func = getattr(lib, name)
        except AttributeError as e:
            raise ImportError(f"grlhf: {path} has no function {name}; rebuild it") from e
        func.argtypes = argtypes
        if restype == _status:
            func.restype = ctypes.c_int32
            func.errcheck = errcheck
        else:
            func.restype = restype
    found = lib.grlhf_abi_version()
    if found != ABI_VERSION:
        raise ImportError(
            f"grlhf: {path} has C ABI version {found}, but these bindings need version "
            f"{ABI_VERSION}; install matching versions of the library and the bindings")
    return lib


path: str = find_library()
lib: ctypes.CDLL = load(path)
