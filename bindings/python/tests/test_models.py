"""Tests of grlhf.Model, grlhf.Tokenizer and generation against the repository's fixtures."""

from __future__ import annotations

import ctypes
import gc
from pathlib import Path

import numpy as np
import pytest

import grlhf
from grlhf import _lib

FIXTURES = Path(__file__).resolve().parents[3] / "Tests" / "GRLHFTests" / "Fixtures"
QWEN2 = FIXTURES / "lm" / "qwen2"
GPT2 = FIXTURES / "tokenizer" / "gpt2" / "tokenizer.json"
GREEDY = [19, 53, 86, 86, 86, 86, 106, 21]

pytestmark = pytest.mark.skipif(not QWEN2.is_dir() or not GPT2.is_file(),
                                reason="not run from the repository")


@pytest.fixture(scope="module")
def model() -> grlhf.Model:
    with grlhf.Model(QWEN2) as m:
        yield m


@pytest.fixture(scope="module")
def prompt() -> np.ndarray:
    return grlhf.load_safetensors(QWEN2 / "expected.safetensors")["input_ids"][0].astype(np.int32)


def test_greedy_matches_fixture(model: grlhf.Model, prompt: np.ndarray) -> None:
    assert model.vocab_size == 128
    [seq] = model.generate(prompt, group=1, temperature=0, max_new_tokens=8)
    assert seq.tokens.dtype == np.int32 and seq.tokens.tolist() == GREEDY
    assert seq.finish_reason == "length"
    assert seq.logprobs.dtype == np.float32 and seq.logprobs.shape == (8,)
    full = model.logprobs(np.concatenate([prompt, seq.tokens]))
    assert full.shape == (len(prompt) + 7,)
    np.testing.assert_allclose(full[len(prompt) - 1:], seq.logprobs, atol=1e-4)


def test_stop_tokens_and_groups(model: grlhf.Model, prompt: np.ndarray) -> None:
    seqs = model.generate(prompt.tolist(), group=3, temperature=0, max_new_tokens=8, stop_tokens=[86])
    assert len(seqs) == 3
    for s in seqs:
        assert s.tokens.tolist() == [19, 53, 86] and s.finish_reason == "stop"
    a = model.generate(prompt, group=4, temperature=0.8, top_k=20, top_p=0.9, max_new_tokens=12, seed=7)
    b = model.generate(prompt, group=2, temperature=0.8, top_k=20, top_p=0.9, max_new_tokens=12, seed=7)
    assert [s.tokens.tolist() for s in a[:2]] == [s.tokens.tolist() for s in b]
    [empty] = model.generate(prompt, max_new_tokens=0)
    assert empty.tokens.size == 0 and empty.logprobs.size == 0


def test_generation_errors(model: grlhf.Model, prompt: np.ndarray) -> None:
    base = grlhf.live_handles()
    cases = [
        dict(prompt_ids=[]), dict(prompt_ids=[1, 128]), dict(prompt_ids=[-1]),
        dict(prompt_ids=[1], group=0), dict(prompt_ids=[1], group=1025),
        dict(prompt_ids=[1], temperature=-1), dict(prompt_ids=[1], temperature=float("nan")),
        dict(prompt_ids=[1], top_k=-1), dict(prompt_ids=[1], top_p=0), dict(prompt_ids=[1], top_p=1.5),
        dict(prompt_ids=[1], max_new_tokens=-1), dict(prompt_ids=[1], max_new_tokens=70000),
        dict(prompt_ids=[1], stop_tokens=[500]),
    ]
    for kwargs in cases:
        with pytest.raises(grlhf.Error) as info:
            model.generate(**kwargs)
        assert info.value.status == _lib.ERR_INVALID_ARGUMENT, kwargs
        assert "grlhf_generate_group" in info.value.message
    with pytest.raises(grlhf.Error, match="vocabulary"):
        model.logprobs([1, 2, 200])
    with pytest.raises(grlhf.Error):
        model.logprobs([])
    assert model.logprobs([5]).shape == (0,)
    assert grlhf.live_handles() == base


def test_model_lifetime() -> None:
    base = grlhf.live_handles()
    with pytest.raises(grlhf.Error) as info:
        grlhf.Model("/nonexistent/model")
    assert info.value.status == _lib.ERR_IO
    m = grlhf.Model(QWEN2)
    assert grlhf.live_handles() == base + 1
    m.close()
    m.close()
    assert grlhf.live_handles() == base
    with pytest.raises(ValueError, match="closed"):
        m.generate([1])
    for _ in range(20):
        grlhf.Model(QWEN2)
    gc.collect()
    assert grlhf.live_handles() == base


def test_tokenizer_round_trip() -> None:
    base = grlhf.live_handles()
    text = "Hello, world! Generative RLHF on the CPU: été 2026."
    with grlhf.Tokenizer(GPT2) as tok:
        ids = tok.encode(text)
        assert ids.dtype == np.int32 and ids.size > 1
        assert tok.decode(ids) == text
        assert tok.decode(ids.tolist()) == text
        assert tok.encode("").size == 0 and tok.decode([]) == ""
        assert tok.vocab_size > 256
    assert tok.closed
    with pytest.raises(ValueError, match="closed"):
        tok.encode("x")
    with pytest.raises(grlhf.Error) as info:
        grlhf.Tokenizer(QWEN2 / "expected.safetensors")
    assert info.value.status == _lib.ERR_INVALID_FORMAT
    assert grlhf.live_handles() == base


def test_chatml() -> None:
    assert grlhf.chatml_user_prompt("Hi") == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"


def test_sampling_params_default(model: grlhf.Model) -> None:
    import ctypes
    p = grlhf.models.sampling_params_default()
    assert p.struct_size == ctypes.sizeof(_lib.SamplingParams) == 48
    assert p.temperature == 1 and p.top_k == 0 and p.top_p == 1
    assert p.max_new_tokens == 64 and p.seed == 0 and p.n_stop_tokens == 0 and not p.stop_tokens
    p.struct_size = 8
    ids = (ctypes.c_int32 * 2)(1, 2)
    out = ctypes.c_void_p()
    with pytest.raises(grlhf.Error, match="struct_size") as info:
        _lib.lib.grlhf_generate_group(model.handle, ids, 2, None, 1, ctypes.byref(p), ctypes.byref(out))
    assert info.value.status == _lib.ERR_INVALID_ARGUMENT and out.value is None


def test_misuse_of_freed_handles() -> None:
    m = grlhf.Model(QWEN2)
    handle = m.handle
    m.close()
    with pytest.raises(grlhf.Error) as info:
        _lib.lib.grlhf_model_vocab_size(handle, ctypes.byref(ctypes.c_int64()))
    assert info.value.status == _lib.ERR_MISUSE


def test_gguf_model_and_tokenizer() -> None:
    # The tiny random Llama GGUF of Tests/GRLHFTests/Fixtures/gguf: its logits (made by numpy from
    # gguf.quants) give the log-probabilities grlhf_model_load's GGUF path must reproduce.
    gguf = FIXTURES / "gguf"
    expected = grlhf.load_safetensors(gguf / "tiny_llama.expected")
    ids, logits = expected["ids"].astype(np.int32), expected["logits"].astype(np.float64)
    with grlhf.Model.load(gguf / "tiny_llama.gguf") as model:
        assert model.vocab_size == logits.shape[1]
        shifted = logits - logits.max(axis=1, keepdims=True)
        want = (shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))[np.arange(len(ids) - 1), ids[1:]]
        np.testing.assert_allclose(model.logprobs(ids), want, atol=1e-4)
    smollm2 = Path(__file__).resolve().parents[3] / ".cache" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if smollm2.exists():  # `make models`
        with grlhf.Tokenizer(smollm2) as tokenizer:
            assert tokenizer.encode("Hello world 2024").tolist() == [19556, 905, 216, 34, 32, 34, 36]  # llama.cpp's ids
    with pytest.raises(grlhf.Error):
        grlhf.Model.load(gguf / "no_such.gguf")
