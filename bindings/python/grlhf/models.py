"""Language and vision-language models, tokenizers and group sampling over the C ABI
(include/grlhf.h, section "Language and vision-language models, tokenizers and generation")."""

from __future__ import annotations

import contextlib
import ctypes
import os
from dataclasses import dataclass
from typing import Iterable, Iterator, List, NamedTuple, Optional, Sequence, Union

import numpy as np

from . import _lib
from ._handle import _Handle
from ._tensor import Tensor

__all__ = ["Model", "ImageInfo", "Tokenizer", "Generation", "chatml_user_prompt",
           "sampling_params_default"]

_c = _lib.lib
_i32p = ctypes.POINTER(ctypes.c_int32)
_f32p = ctypes.POINTER(ctypes.c_float)
_PathLike = Union[str, "os.PathLike[str]"]
#: Images for one call: a Tensor or array [I, 3, S, S], or a sequence of them (concatenated).
Images = Union[Tensor, np.ndarray, Sequence[Union[Tensor, np.ndarray]]]

#: finish_reason codes -> names.
FINISH_REASONS = {0: "stop", 1: "length"}


def _ids_array(ids: Iterable[int], what: str) -> np.ndarray:
    array = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids).reshape(-1)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{what} must be integers, got {array.dtype}")
    if array.size and (array.min() < np.iinfo(np.int32).min or array.max() > np.iinfo(np.int32).max):
        raise ValueError(f"{what} has values outside int32")
    return np.ascontiguousarray(array, dtype=np.int32)


def _path(path: _PathLike) -> bytes:
    return os.fspath(path).encode("utf-8")


@contextlib.contextmanager
def _images_handle(images: Optional[Images]) -> Iterator[Optional[int]]:
    """The grlhf_tensor handle of ``images`` for the duration of one call (None gives NULL);
    arrays and sequences become a temporary Tensor."""
    if images is None:
        yield None
    elif isinstance(images, Tensor):
        yield images.handle
    else:
        if isinstance(images, (list, tuple)):
            images = np.concatenate([np.asarray(i, dtype=np.float32) for i in images], axis=0)
        with Tensor(images) as t:
            yield t.handle


def sampling_params_default() -> _lib.SamplingParams:
    """A grlhf_sampling_params filled with the library's defaults."""
    params = _lib.SamplingParams()
    _c.grlhf_sampling_params_default(ctypes.byref(params))
    return params


@dataclass
class Generation:
    """One generated continuation: ``tokens`` (int32), ``logprobs`` (float32: log π(token |
    prefix) under the model's own distribution, temperature 1, before top-k/top-p) and
    ``finish_reason`` ("stop" or "length")."""
    tokens: np.ndarray
    logprobs: np.ndarray
    finish_reason: str


class ImageInfo(NamedTuple):
    """How a model reads images: each image is one ``image_token_id`` in the ids (None for a
    text-only model), widened to ``tokens_per_image`` positions; images are [I, 3, S, S]
    float32 with S = ``image_size``."""
    image_token_id: Optional[int]
    tokens_per_image: int
    image_size: int


class Model(_Handle):
    """A causal language model: text-only (Llama / Qwen2, a Hugging Face directory) or
    multimodal (LLaVA-style, model_type "llava"). ``Model(dir)`` is ``Model.load(dir)``.
    Use one model from one thread at a time.

    With a multimodal model, a prompt holds one ``image_info.image_token_id`` per image (the
    tokenizer's ``<image>``), and ``images`` (:meth:`load_image`, a Tensor, an array
    [I, 3, S, S] or a list of them) gives the images in order.
    """

    _free = staticmethod(lambda h: _c.grlhf_model_free(h))

    def __init__(self, directory: _PathLike) -> None:
        handle = ctypes.c_void_p()
        _c.grlhf_model_load(_path(directory), ctypes.byref(handle))
        self._adopt(handle.value)

    @classmethod
    def load(cls, directory: _PathLike) -> "Model":
        """Loads a model directory (config.json + model.safetensors) of any supported kind, or a
        Llama ``.gguf`` file (weights dequantized to float32)."""
        return cls(directory)

    @classmethod
    def init(cls, config_path: _PathLike, seed: int = 0) -> "Model":
        """A randomly initialized model from a config.json file; the same seed gives the same
        weights."""
        if not 0 <= int(seed) < 2 ** 64:
            raise ValueError(f"seed {seed} is outside 0..2**64-1")
        handle = ctypes.c_void_p()
        _c.grlhf_model_init(_path(config_path), int(seed), ctypes.byref(handle))
        model = cls.__new__(cls)
        model._adopt(handle.value)
        return model

    def save(self, directory: _PathLike) -> None:
        """Writes config.json and model.safetensors into ``directory`` (created if missing)."""
        _c.grlhf_model_save(self.handle, _path(directory))

    @property
    def vocab_size(self) -> int:
        out = ctypes.c_int64()
        _c.grlhf_model_vocab_size(self.handle, ctypes.byref(out))
        return out.value

    @property
    def image_info(self) -> ImageInfo:
        token, per_image, size = ctypes.c_int32(), ctypes.c_int64(), ctypes.c_int64()
        _c.grlhf_model_image_info(self.handle, ctypes.byref(token), ctypes.byref(per_image),
                                  ctypes.byref(size))
        return ImageInfo(token.value if token.value >= 0 else None, per_image.value, size.value)

    def load_image(self, path: _PathLike) -> Tensor:
        """A PNG file preprocessed for this model: a Tensor [1, 3, S, S] (``.numpy()`` for an
        array). Raises :class:`grlhf.Error` for a missing or corrupt file or a text-only model."""
        handle = ctypes.c_void_p()
        _c.grlhf_image_load(self.handle, _path(path), ctypes.byref(handle))
        return Tensor._from_handle(handle.value)

    def logprobs(self, ids: Iterable[int], images: Optional[Images] = None) -> np.ndarray:
        """``out[t] = log π(ids[t+1] | ids[:t+1], images)`` for t < len(ids) - 1 (float32), with
        one image placeholder per image in ``ids``; 0 where ids[t+1] is a placeholder."""
        array = _ids_array(ids, "ids")
        out = np.empty(max(array.size - 1, 0), dtype=np.float32)
        with _images_handle(images) as image_handle:
            _c.grlhf_model_logprobs(self.handle, array.ctypes.data_as(_i32p), array.size, image_handle,
                                    out.ctypes.data_as(_f32p) if out.size else None, out.size)
        return out

    def generate(self, prompt_ids: Iterable[int], group: int = 1, *, images: Optional[Images] = None,
                 temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                 max_new_tokens: int = 64, seed: int = 0,
                 stop_tokens: Iterable[int] = ()) -> List[Generation]:
        """Samples ``group`` continuations of ``prompt_ids`` (with ``images``, one per image
        placeholder in the prompt); temperature 0 is greedy. Sequence i depends only on
        (prompt, images, options, seed, i)."""
        prompt = _ids_array(prompt_ids, "prompt_ids")
        stops = _ids_array(list(stop_tokens), "stop_tokens")
        params = sampling_params_default()
        params.temperature = float(temperature)
        params.top_k = int(top_k)
        params.top_p = float(top_p)
        params.max_new_tokens = int(max_new_tokens)
        if not 0 <= int(seed) < 2 ** 64:
            raise ValueError(f"seed {seed} is outside 0..2**64-1")
        params.seed = int(seed)
        if stops.size:
            params.stop_tokens = stops.ctypes.data_as(_i32p)
        params.n_stop_tokens = stops.size
        result = ctypes.c_void_p()
        with _images_handle(images) as image_handle:
            _c.grlhf_generate_group(self.handle, prompt.ctypes.data_as(_i32p) if prompt.size else None,
                                    prompt.size, image_handle, int(group), ctypes.byref(params),
                                    ctypes.byref(result))
        try:
            count = ctypes.c_int64()
            _c.grlhf_generation_count(result, ctypes.byref(count))
            sequences = []
            for i in range(count.value):
                tokens, logprobs = _i32p(), _f32p()
                length, finish = ctypes.c_int64(), ctypes.c_int32()
                _c.grlhf_generation_tokens(result, i, ctypes.byref(tokens), ctypes.byref(logprobs),
                                           ctypes.byref(length), ctypes.byref(finish))
                n = length.value
                sequences.append(Generation(
                    tokens=np.ctypeslib.as_array(tokens, (n,)).copy() if n else np.empty(0, np.int32),
                    logprobs=np.ctypeslib.as_array(logprobs, (n,)).copy() if n else np.empty(0, np.float32),
                    finish_reason=FINISH_REASONS.get(finish.value, str(finish.value))))
            return sequences
        finally:
            _c.grlhf_generation_free(result)

    def __repr__(self) -> str:
        if self.closed:
            return "grlhf.Model(closed)"
        info = self.image_info
        images = "" if info.image_token_id is None else f", image_token_id={info.image_token_id}"
        return f"grlhf.Model(vocab_size={self.vocab_size}{images})"


class Tokenizer(_Handle):
    """A byte-level BPE tokenizer read from a Hugging Face tokenizer.json or from a ``.gguf``
    file; thread-safe."""

    _free = staticmethod(lambda h: _c.grlhf_tokenizer_free(h))

    def __init__(self, path: _PathLike) -> None:
        handle = ctypes.c_void_p()
        _c.grlhf_tokenizer_load(_path(path), ctypes.byref(handle))
        self._adopt(handle.value)

    @property
    def vocab_size(self) -> int:
        out = ctypes.c_int64()
        _c.grlhf_tokenizer_vocab_size(self.handle, ctypes.byref(out))
        return out.value

    def encode(self, text: str) -> np.ndarray:
        """Token ids (int32) of ``text``, without added special tokens."""
        data = text.encode("utf-8")
        count = ctypes.c_int64()
        _c.grlhf_tokenizer_encode(self.handle, data, None, 0, ctypes.byref(count))
        ids = np.empty(count.value, dtype=np.int32)
        if ids.size:
            _c.grlhf_tokenizer_encode(self.handle, data, ids.ctypes.data_as(_i32p), ids.size,
                                      ctypes.byref(count))
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``; ids that name no token are skipped."""
        array = _ids_array(ids, "ids")
        pointer = array.ctypes.data_as(_i32p) if array.size else None
        length = ctypes.c_int64()
        _c.grlhf_tokenizer_decode(self.handle, pointer, array.size, None, 0, ctypes.byref(length))
        buf = ctypes.create_string_buffer(length.value + 1)
        _c.grlhf_tokenizer_decode(self.handle, pointer, array.size, buf, len(buf), ctypes.byref(length))
        return buf.raw[: length.value].decode("utf-8")

    def __repr__(self) -> str:
        return "grlhf.Tokenizer(closed)" if self.closed else f"grlhf.Tokenizer(vocab_size={self.vocab_size})"


def chatml_user_prompt(message: str) -> str:
    """The ChatML prompt of one user message followed by the assistant's generation prompt."""
    data = message.encode("utf-8")
    length = ctypes.c_int64()
    _c.grlhf_chatml_user_prompt(data, None, 0, ctypes.byref(length))
    buf = ctypes.create_string_buffer(length.value + 1)
    _c.grlhf_chatml_user_prompt(data, buf, len(buf), ctypes.byref(length))
    return buf.raw[: length.value].decode("utf-8")
