"""Tests of multimodal models through the bindings: Model.init from the fixture config, save and
load, load_image, generation with images and log-probs that reproduce it, image errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import grlhf
from grlhf import _lib

FIXTURES = Path(__file__).resolve().parents[3] / "Tests" / "GRLHFTests" / "Fixtures"
CONFIG = FIXTURES / "multimodal" / "config.json"
TOKENIZER = FIXTURES / "multimodal" / "tokenizer.json"
PNG = FIXTURES / "png" / "rgb_filters.png"
QWEN2 = FIXTURES / "lm" / "qwen2"
IMAGE_TOKEN = 400

pytestmark = pytest.mark.skipif(not CONFIG.is_file() or not PNG.is_file(),
                                reason="not run from the repository")


@pytest.fixture(scope="module")
def model() -> grlhf.Model:
    with grlhf.Model.init(CONFIG, seed=3) as m:
        yield m


@pytest.fixture(scope="module")
def prompt() -> np.ndarray:
    with grlhf.Tokenizer(TOKENIZER) as tok:
        return tok.encode(grlhf.chatml_user_prompt("<image>\nwhat shape?"))


def test_image_info_and_load_image(model: grlhf.Model) -> None:
    assert model.vocab_size == 401
    assert model.image_info == grlhf.ImageInfo(IMAGE_TOKEN, 16, 16)
    assert "image_token_id=400" in repr(model)
    image = model.load_image(PNG)
    assert isinstance(image, grlhf.Tensor) and image.shape == (1, 3, 16, 16)
    values = image.numpy()
    assert values.dtype == np.float32 and -1 <= values.min() < values.max() <= 1
    with grlhf.Model(QWEN2) as text:
        assert text.image_info == grlhf.ImageInfo(None, 0, 0)
        with pytest.raises(grlhf.Error, match="text-only") as info:
            text.load_image(PNG)
        assert info.value.status == _lib.ERR_INVALID_ARGUMENT


def test_load_image_errors(model: grlhf.Model, tmp_path: Path) -> None:
    with pytest.raises(grlhf.Error, match="missing.png") as info:
        model.load_image(tmp_path / "missing.png")
    assert info.value.status == _lib.ERR_IO and "grlhf_image_load" in info.value.message
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(PNG.read_bytes()[:40])
    with pytest.raises(grlhf.Error) as info:
        model.load_image(corrupt)
    assert info.value.status == _lib.ERR_INVALID_FORMAT


def test_generation_logprobs_match_rescoring(model: grlhf.Model, prompt: np.ndarray) -> None:
    assert (prompt == IMAGE_TOKEN).sum() == 1
    image = model.load_image(PNG)
    seqs = model.generate(prompt, group=3, images=image, max_new_tokens=8, seed=5,
                          stop_tokens=[IMAGE_TOKEN])
    assert len(seqs) == 3
    for s in seqs:
        # A generated image token would be read as an image by logprobs: it is a stop token
        # here, and dropped before re-scoring.
        tokens, lp = (s.tokens[:-1], s.logprobs[:-1]) if s.finish_reason == "stop" else (s.tokens, s.logprobs)
        full = model.logprobs(np.concatenate([prompt, tokens]), images=image)
        assert full.shape == (len(prompt) + len(tokens) - 1,)
        np.testing.assert_allclose(full[len(prompt) - 1:], lp, atol=1e-4)
    # numpy arrays and lists of images work as well as Tensors, with the same results.
    again = model.generate(prompt, group=3, images=image.numpy(), max_new_tokens=8, seed=5,
                           stop_tokens=[IMAGE_TOKEN])
    assert [s.tokens.tolist() for s in again] == [s.tokens.tolist() for s in seqs]
    ids = np.concatenate([prompt, [42, 43]])
    np.testing.assert_array_equal(model.logprobs(ids, images=[image]), model.logprobs(ids, images=image))
    # The image matters.
    blank = np.zeros((1, 3, 16, 16), np.float32)
    assert model.logprobs(ids, images=blank)[-1] != model.logprobs(ids, images=image)[-1]


def test_two_images(model: grlhf.Model) -> None:
    image = model.load_image(PNG).numpy()
    blank = np.zeros_like(image)
    ids = [IMAGE_TOKEN, 5, IMAGE_TOKEN, 6, 7]
    out = model.logprobs(ids, images=[image, blank])
    assert out.shape == (4,) and out[1] == 0 and (out[[0, 2, 3]] < 0).all()
    assert out[0] != model.logprobs(ids, images=[blank, image])[0]
    [seq] = model.generate(ids, images=np.concatenate([image, blank]), max_new_tokens=3, temperature=0)
    assert seq.tokens.shape == (3,)


def test_image_errors(model: grlhf.Model, prompt: np.ndarray) -> None:
    base = grlhf.live_handles()
    image = model.load_image(PNG).numpy()
    cases = [
        dict(images=None),                                    # a placeholder without an image
        dict(images=np.concatenate([image, image])),          # two images for one placeholder
        dict(images=np.zeros((1, 3, 8, 8), np.float32)),      # the wrong size
        dict(images=image[0]),                                # rank 3
    ]
    for kwargs in cases:
        with pytest.raises(grlhf.Error) as info:
            model.generate(prompt, max_new_tokens=1, **kwargs)
        assert info.value.status == _lib.ERR_INVALID_ARGUMENT, kwargs
        assert "grlhf_generate_group" in info.value.message
        with pytest.raises(grlhf.Error) as info:
            model.logprobs(prompt, **kwargs)
        assert info.value.status == _lib.ERR_INVALID_ARGUMENT, kwargs
    with pytest.raises(grlhf.Error, match="images has shape"):
        model.logprobs([1, 2, 3], images=image)               # an image without a placeholder
    closed = model.load_image(PNG)
    closed.close()
    with pytest.raises(ValueError, match="closed"):
        model.logprobs(prompt, images=closed)
    with grlhf.Model(QWEN2) as text:
        with pytest.raises(grlhf.Error, match="text-only"):
            text.generate([1, 2], images=image)
    assert grlhf.live_handles() == base


def test_init_save_load(tmp_path: Path) -> None:
    base = grlhf.live_handles()
    ids = [1, IMAGE_TOKEN, 50, 60]
    with grlhf.Model.init(CONFIG, seed=7) as m:
        image = m.load_image(PNG)
        expected = m.logprobs(ids, images=image)
        m.save(tmp_path / "model")
        with grlhf.Model.init(CONFIG, seed=7) as same, grlhf.Model.init(CONFIG, seed=8) as other:
            np.testing.assert_array_equal(same.logprobs(ids, images=image), expected)
            assert not np.array_equal(other.logprobs(ids, images=image), expected)
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["config.json", "model.safetensors"]
    with grlhf.Model.load(tmp_path / "model") as back:
        np.testing.assert_array_equal(back.logprobs(ids, images=image), expected)
        with pytest.raises(grlhf.Error) as info:
            back.save("/dev/null/model")
        assert info.value.status == _lib.ERR_IO
    image.close()
    with pytest.raises(grlhf.Error) as info:
        grlhf.Model.init(tmp_path / "missing.json")
    assert info.value.status == _lib.ERR_IO
    (tmp_path / "vit.json").write_text('{"model_type": "vit", "hidden_size": 8, "num_attention_heads": 2}')
    with pytest.raises(grlhf.Error, match="model_type") as info:
        grlhf.Model.init(tmp_path / "vit.json")
    assert info.value.status == _lib.ERR_UNSUPPORTED
    with pytest.raises(ValueError):
        grlhf.Model.init(CONFIG, seed=-1)
    assert grlhf.live_handles() == base
