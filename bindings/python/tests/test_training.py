"""Tests of the trainers through the bindings: SFTTrainer, RewardModel and RewardModelTrainer,
DPOTrainer and GRPOTrainer with Python-callable rewards (and exceptions in them) and a
Bradley-Terry reward model as the reward, metrics callbacks that stop the run, checkpoints and
resume, errors and handle lifetimes. Tiny models (a text-only Llama config written here, with
the multimodal fixture's ChatML tokenizer) keep every test to about a second."""

from __future__ import annotations

import ctypes
import gc
import inspect
import json
import math
from pathlib import Path

import numpy as np
import pytest

import grlhf
from grlhf import _lib

FIXTURES = Path(__file__).resolve().parents[3] / "Tests" / "GRLHFTests" / "Fixtures"
TOKENIZER = FIXTURES / "multimodal" / "tokenizer.json"
MM_CONFIG = FIXTURES / "multimodal" / "config.json"
PNG = FIXTURES / "png" / "rgb_filters.png"

pytestmark = pytest.mark.skipif(not TOKENIZER.is_file(), reason="not run from the repository")

CONFIG = {"model_type": "llama", "vocab_size": 401, "hidden_size": 32, "intermediate_size": 64,
          "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
          "tie_word_embeddings": True}
SFT_ROWS = [{"question": "What color is the sky?", "response": "It is blue."},
            {"question": "What color is the grass?", "response": "It is green."},
            {"question": "What color is blood?", "response": "It is red."}]
PAIRS = [{"question": "What color is the sky?", "response_1": "It is blue.", "response_2": "It is red.", "preferred": 1},
         {"question": "What color is the grass?", "response_1": "It is red.", "response_2": "It is green.", "preferred": 2},
         {"question": "What color is the sea?", "response_1": "It is blue.", "response_2": "It is red.", "preferred": 1}]
PROMPTS = [{"question": "What color is the sky?", "ground_truth": "blue"},
           {"question": "What color is the grass?", "ground_truth": "green"}]
FAST = dict(warmup_ratio=0.0, weight_decay=0.0, schedule="constant")
PROBE = [1, 57, 99, 140, 7, 300, 12, 2]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "config.json"
    path.write_text(json.dumps(CONFIG))
    return path


@pytest.fixture(scope="module")
def tok() -> grlhf.Tokenizer:
    with grlhf.Tokenizer(TOKENIZER) as t:
        yield t


def model(config: Path, seed: int = 1) -> grlhf.Model:
    return grlhf.Model.init(config, seed=seed)


# ---- params -----------------------------------------------------------------------------------

@pytest.mark.parametrize("cls, struct, default", [
    (grlhf.SFTTrainer, _lib.SFTParams, "grlhf_sft_params_default"),
    (grlhf.RewardModelTrainer, _lib.RMParams, "grlhf_rm_params_default"),
    (grlhf.DPOTrainer, _lib.DPOParams, "grlhf_dpo_params_default"),
    (grlhf.GRPOTrainer, _lib.GRPOParams, "grlhf_grpo_params_default"),
    (grlhf.PPOTrainer, _lib.PPOParams, "grlhf_ppo_params_default"),
])
def test_keyword_defaults_are_the_library_defaults(cls: type, struct: type, default: str) -> None:
    params = struct()
    getattr(_lib.lib, default)(ctypes.byref(params))
    assert params.struct_size == ctypes.sizeof(struct)
    schedules = {0: "constant", 1: "linear", 2: "cosine"}
    names = {"schedule": schedules, "critic_schedule": schedules, "kl_estimator": {0: "k1", 1: "k3"}}
    keywords = {p.name: p.default for p in inspect.signature(cls.__init__).parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY}
    keywords["lambda"] = keywords.pop("lam", None)
    fields = [name for name, _ in struct._fields_ if name not in ("struct_size", "stop_tokens", "n_stop_tokens")]
    assert set(fields) <= set(keywords), set(fields) - set(keywords)
    for name in fields:
        value = getattr(params, name)
        if name in names:
            value = names[name][value]
        elif isinstance(value, float):
            assert np.float32(keywords[name]) == np.float32(value), name
            continue
        elif name in ("freeze_vision_tower", "mask_truncated", "whiten_advantages"):
            value = bool(value)
        assert keywords[name] == value, name


# ---- SFT --------------------------------------------------------------------------------------

def test_sft_trains_reports_and_writes_metrics(config: Path, tok: grlhf.Tokenizer, tmp_path: Path) -> None:
    base = grlhf.live_handles()
    m = model(config)
    before = m.logprobs(PROBE)
    seen = []
    with grlhf.SFTTrainer(m, tok, SFT_ROWS, steps=6, batch_size=3, learning_rate=1e-2,
                          metrics_path=tmp_path / "metrics.jsonl", **FAST) as trainer:
        assert trainer.progress == (0, 6) and trainer.metrics == {}
        results = trainer.train(callback=lambda step, metrics: seen.append((step, metrics)), progress=True)
        assert [s for s, _ in seen] == [1, 2, 3, 4, 5, 6]
        assert [r for _, r in seen] == results == trainer.history
        losses = [r["loss"] for r in results]
        assert all(math.isfinite(x) for x in losses) and losses[-1] < 0.7 * losses[0]
        assert {"loss", "grad_norm", "learning_rate", "mean_token_accuracy", "tokens", "step"} <= set(results[0])
        assert trainer.metrics == results[-1] and trainer.metrics["step"] == 6
        assert trainer.step_count == trainer.total_steps == 6
        assert "step=6/6" in repr(trainer)
    assert repr(trainer) == "grlhf.SFTTrainer(closed)"
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 6 and json.loads(lines[0])["loss"] == pytest.approx(losses[0])
    assert not np.array_equal(before, m.logprobs(PROBE))  # trained in place
    m.close()
    assert grlhf.live_handles() == base


def test_sft_from_a_jsonl_file_and_one_step(config: Path, tok: grlhf.Tokenizer, tmp_path: Path) -> None:
    path = tmp_path / "sft.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in SFT_ROWS) + "\n")
    with model(config) as m, grlhf.SFTTrainer(m, tok, path, steps=2, batch_size=3) as trainer:
        metrics = trainer.step()
        assert metrics["step"] == 1 and trainer.step_count == 1
        assert trainer.train(steps=5) == [trainer.metrics]  # never past the total
        assert trainer.step_count == 2


def test_sft_with_images(tok: grlhf.Tokenizer, tmp_path: Path) -> None:
    rows = [{"question": "What shape?", "image": str(PNG), "response": "A square."},
            {"question": "Describe it.", "image": PNG, "response": "Stripes."}]
    with grlhf.Model.init(MM_CONFIG, seed=1) as m, grlhf.SFTTrainer(m, tok, rows, steps=2, batch_size=2) as t:
        assert len(t.train()) == 2


def test_callback_stops_and_exceptions_propagate(config: Path, tok: grlhf.Tokenizer) -> None:
    with model(config) as m, grlhf.SFTTrainer(m, tok, SFT_ROWS, steps=10, batch_size=2) as trainer:
        assert len(trainer.train(callback=lambda step, metrics: step < 2)) == 2
        assert trainer.step_count == 2
        assert len(trainer.train(3)) == 3 and trainer.step_count == 5

        def broken(step: int, metrics: dict) -> bool:
            raise KeyError("no such metric")
        with pytest.raises(KeyError, match="no such metric"):
            trainer.train(callback=broken)
        assert trainer.step_count == 6  # the step ran; the run stopped after it
        with pytest.raises(ValueError):
            trainer.train(-1)


def test_checkpoint_and_resume_are_bit_exact(config: Path, tok: grlhf.Tokenizer, tmp_path: Path) -> None:
    settings = dict(steps=4, batch_size=2, learning_rate=1e-3)
    with model(config, 5) as straight, grlhf.SFTTrainer(straight, tok, SFT_ROWS, **settings) as a:
        a.train()
        expected, history = straight.logprobs(PROBE), a.history
    with model(config, 5) as m, grlhf.SFTTrainer(m, tok, SFT_ROWS, **settings) as b:
        b.train(2, checkpoint_dir=tmp_path / "ckpt", checkpoint_every=1)
    assert (tmp_path / "ckpt" / "latest").read_text() == "step-000002"
    assert (tmp_path / "ckpt" / "step-000001" / "weights.safetensors").is_file()
    with model(config, 5) as m, grlhf.SFTTrainer(m, tok, SFT_ROWS, **settings) as c:
        c.resume(tmp_path / "ckpt")
        assert c.progress == (2, 4)
        assert [h["loss"] for h in c.history] == [h["loss"] for h in history[:2]]
        c.train()
        np.testing.assert_array_equal(m.logprobs(PROBE), expected)
        assert [h["loss"] for h in c.history] == [h["loss"] for h in history]
        with pytest.raises(grlhf.Error) as info:
            c.resume(tmp_path / "missing")
        assert info.value.status == _lib.ERR_IO
        assert c.save_checkpoint(tmp_path / "again").endswith("step-000004")


# ---- GRPO with Python rewards -----------------------------------------------------------------

def test_grpo_with_a_python_reward(config: Path, tok: grlhf.Tokenizer) -> None:
    calls = []

    def length_reward(prompt: dict, completions: list) -> list:
        calls.append((prompt, completions))
        return [float(len(c)) for c in completions]

    base = grlhf.live_handles()
    with model(config, 3) as m, grlhf.GRPOTrainer(m, tok, PROMPTS, length_reward, steps=3, prompts_per_step=2,
                                                  group_size=4, max_new_tokens=6, learning_rate=1e-3, **FAST) as trainer:
        stopped = trainer.train(callback=lambda step, metrics: step < 2)
        assert len(stopped) == 2 and len(calls) == 4
        prompt, completions = calls[0]
        assert prompt["question"] in {p["question"] for p in PROMPTS} and prompt["image"] is None
        assert prompt["ground_truth"] in ("blue", "green")
        assert len(completions) == 4 and all(isinstance(c, str) for c in completions)
        assert len(prompt["completion_tokens"]) == 4 and all(t.dtype == np.int32 and 1 <= t.size <= 6
                                                             for t in prompt["completion_tokens"])
        assert all(t == (tokens.size == 6) or not t for t, tokens in zip(prompt["truncated"], prompt["completion_tokens"]))
        rewards = [len(c) for _, cs in calls[:2] for c in cs]
        assert stopped[0]["reward"] == pytest.approx(np.mean(rewards), rel=1e-5)
        assert stopped[0]["kl"] >= 0 and "clip_ratio" in stopped[0]
        trainer.train()
        assert trainer.step_count == 3 and len(calls) == 6
    assert grlhf.live_handles() == base


def test_grpo_reward_exceptions_fail_the_step(config: Path, tok: grlhf.Tokenizer) -> None:
    state = {"mode": "raise"}

    def flaky(prompt: dict, completions: list) -> list:
        if state["mode"] == "raise":
            raise ValueError("the judge is unavailable")
        if state["mode"] == "short":
            return [1.0]
        if state["mode"] == "interrupt":
            raise KeyboardInterrupt
        return [0.0, 1.0]

    with model(config, 4) as m, grlhf.GRPOTrainer(m, tok, PROMPTS, flaky, steps=2, prompts_per_step=1,
                                                  group_size=2, max_new_tokens=4, kl_coefficient=0) as trainer:
        before = m.logprobs(PROBE)
        with pytest.raises(grlhf.Error, match="the judge is unavailable") as info:
            trainer.step()
        assert info.value.status == _lib.ERR_CALLBACK
        assert "ValueError" in info.value.message and "grlhf_trainer_step" in info.value.message
        assert isinstance(info.value.__cause__, ValueError)
        with pytest.raises(grlhf.Error, match="unavailable"):
            trainer.train()
        state["mode"] = "short"
        with pytest.raises(grlhf.Error, match="1 rewards for 2 completions"):
            trainer.step()
        state["mode"] = "interrupt"
        with pytest.raises(KeyboardInterrupt):
            trainer.step()
        assert trainer.step_count == 0 and trainer.metrics == {}
        np.testing.assert_array_equal(m.logprobs(PROBE), before)
        state["mode"] = "ok"
        assert trainer.step()["reward"] == 0.5 and trainer.step_count == 1
    gc.collect()


def test_reward_callable_survives_its_reward_handle(config: Path, tok: grlhf.Tokenizer) -> None:
    reward = grlhf.Reward(lambda prompt, completions: [1.0] * len(completions))
    with model(config) as m:
        trainer = grlhf.GRPOTrainer(m, tok, PROMPTS, reward, steps=2, prompts_per_step=1, group_size=2,
                                    max_new_tokens=3)
        reward.close()  # the trainer keeps the C reward and this object keeps the callback
        del reward
        gc.collect()
        assert trainer.step()["reward"] == 1.0
        trainer.close()


# ---- reward models, DPO -----------------------------------------------------------------------

def test_reward_model_trains_saves_and_rewards_grpo(config: Path, tok: grlhf.Tokenizer, tmp_path: Path) -> None:
    base = grlhf.live_handles()
    rows = [("What color is the sky?", "It is blue."), ("What color is the sky?", "It is red.")]
    with model(config, 6) as base_model, grlhf.RewardModel(base_model, seed=9) as rm:
        before = rm.score(tok, rows)
        assert before.dtype == np.float32 and before.shape == (2,)
        with grlhf.RewardModelTrainer(rm, tok, PAIRS, steps=8, batch_size=3, learning_rate=3e-3) as trainer:
            results = trainer.train()
            assert {"accuracy", "rewards/chosen", "rewards/rejected", "rewards/margins"} <= set(results[-1])
        after = rm.score(tok, [{"question": q, "response": r} for q, r in rows])
        assert after[0] - after[1] > before[0] - before[1]
        rm.save(tmp_path / "rm")
        with grlhf.RewardModel.load(tmp_path / "rm") as back:
            np.testing.assert_array_equal(back.score(tok, rows), after)
            assert back.score(tok, []).shape == (0,)
            with pytest.raises(grlhf.Error, match="text-only"):
                back.score(tok, [("q", str(PNG), "r")])
        # the reward model as GRPO's reward, directly and as a Reward
        with model(config, 7) as policy:
            with grlhf.GRPOTrainer(policy, tok, PROMPTS, rm, steps=1, prompts_per_step=1, group_size=3,
                                   max_new_tokens=4) as grpo:
                assert math.isfinite(grpo.step()["reward"])
            with rm.reward(tok) as reward, grlhf.GRPOTrainer(policy, tok, PROMPTS, reward, steps=1,
                                                              prompts_per_step=1, group_size=3, max_new_tokens=4) as grpo:
                assert math.isfinite(grpo.step()["reward"])
    gc.collect()
    assert grlhf.live_handles() == base


def test_dpo(config: Path, tok: grlhf.Tokenizer) -> None:
    with model(config, 7) as policy, model(config, 8) as reference:
        with grlhf.DPOTrainer(policy, tok, PAIRS, steps=3, batch_size=3, learning_rate=1e-3) as trainer:
            first = trainer.step()
            assert first["loss"] == pytest.approx(math.log(2), abs=1e-5)  # the policy is its reference
            assert {"rewards/accuracies", "rewards/margins"} <= set(first)
            assert len(trainer.train()) == 2
        with grlhf.DPOTrainer(policy, tok, PAIRS, reference=reference, steps=1, batch_size=3) as trainer:
            assert math.isfinite(trainer.step()["loss"])
        with pytest.raises(grlhf.Error, match="policy itself") as info:
            grlhf.DPOTrainer(policy, tok, PAIRS, reference=policy)
        assert info.value.status == _lib.ERR_INVALID_ARGUMENT


def test_ppo_with_a_python_reward_a_rule_and_a_critic(config: Path, tok: grlhf.Tokenizer, tmp_path: Path) -> None:
    base = grlhf.live_handles()
    seen = []

    def length_reward(prompt: dict, completions: list) -> list:
        seen.append(len(completions))
        return [float(len(c)) for c in completions]

    with model(config, 11) as policy:
        with grlhf.PPOTrainer(policy, tok, PROMPTS, length_reward, steps=2, prompts_per_step=2,
                              completions_per_prompt=2, max_new_tokens=5, learning_rate=1e-3, lam=0.9,
                              critic_learning_rate=1e-3) as trainer:
            results = trainer.train()
            assert len(results) == 2 and seen == [2, 2, 2, 2]
            assert {"value_loss", "returns", "advantages", "reward", "kl"} <= set(results[-1])
            trainer.save_checkpoint(tmp_path / "ppo")
            trainer.resume(tmp_path / "ppo")  # both optimizers come back
        with model(config, 12) as critic_base, grlhf.RewardModel(critic_base, seed=1) as critic:
            with grlhf.PPOTrainer(policy, tok, PROMPTS, "contains-ground-truth", critic=critic, steps=1,
                                  prompts_per_step=2, max_new_tokens=4) as trainer:
                assert 0 <= trainer.step()["reward"] <= 1
                assert "contains-ground-truth" in repr(trainer.reward)
            with pytest.raises(grlhf.Error, match="critic"):
                grlhf.PPOTrainer(policy, tok, PROMPTS, "contains-ground-truth", critic=grlhf.RewardModel(policy))
        with pytest.raises(grlhf.Error, match="ground_truth"):
            grlhf.GRPOTrainer(policy, tok, SFT_ROWS, "contains-ground-truth")
        with pytest.raises(grlhf.Error, match="known: contains-ground-truth"):
            grlhf.Reward.rule("exact-match")
        with pytest.raises(ValueError, match="critic_schedule"):
            grlhf.PPOTrainer(policy, tok, PROMPTS, "contains-ground-truth", critic_schedule="step")
        with pytest.raises(grlhf.Error, match="gamma"):
            grlhf.PPOTrainer(policy, tok, PROMPTS, "contains-ground-truth", gamma=1.5)
    gc.collect()
    assert grlhf.live_handles() == base


# ---- errors -----------------------------------------------------------------------------------

def test_errors(config: Path, tok: grlhf.Tokenizer, tmp_path: Path) -> None:
    base = grlhf.live_handles()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "response": "r"}\n{"question": 5}\n')
    with model(config) as m:
        for kwargs in [dict(batch_size=0), dict(steps=0), dict(gradient_accumulation=3),
                       dict(learning_rate=float("nan")), dict(warmup_ratio=2), dict(beta2=1.0)]:
            with pytest.raises(grlhf.Error) as info:
                grlhf.SFTTrainer(m, tok, SFT_ROWS, **kwargs)
            assert info.value.status == _lib.ERR_INVALID_ARGUMENT, kwargs
            assert "grlhf_sft_trainer_create" in info.value.message
        with pytest.raises(ValueError, match="schedule"):
            grlhf.SFTTrainer(m, tok, SFT_ROWS, schedule="exponential")
        with pytest.raises(ValueError, match="kl_estimator"):
            grlhf.GRPOTrainer(m, tok, PROMPTS, lambda p, c: [0.0] * len(c), kl_estimator="k2")
        with pytest.raises(ValueError, match="64-bit"):
            grlhf.SFTTrainer(m, tok, SFT_ROWS, steps=2 ** 70)
        with pytest.raises(TypeError):
            grlhf.SFTTrainer(m, tok, SFT_ROWS, stepz=3)
        with pytest.raises(TypeError, match="callable"):
            grlhf.GRPOTrainer(m, tok, PROMPTS, 42)
        for kwargs in [dict(group_size=0), dict(top_p=0.0), dict(max_new_tokens=0), dict(stop_tokens=[401]),
                       dict(mini_batches=100)]:
            with pytest.raises(grlhf.Error) as info:
                grlhf.GRPOTrainer(m, tok, PROMPTS, lambda p, c: [0.0] * len(c), **kwargs)
            assert info.value.status == _lib.ERR_INVALID_ARGUMENT, kwargs
        with pytest.raises(grlhf.Error, match="bad.jsonl:2") as info:
            grlhf.SFTTrainer(m, tok, bad)
        assert info.value.status == _lib.ERR_INVALID_FORMAT
        with pytest.raises(grlhf.Error) as info:
            grlhf.SFTTrainer(m, tok, tmp_path / "missing.jsonl")
        assert info.value.status == _lib.ERR_IO
        with pytest.raises(grlhf.Error, match="no rows"):
            grlhf.SFTTrainer(m, tok, [])
        with pytest.raises(grlhf.Error, match="text-only"):
            grlhf.SFTTrainer(m, tok, [{"question": "q", "image": str(PNG), "response": "r"}])
        with pytest.raises(grlhf.Error) as info:
            grlhf.DPOTrainer(m, tok, SFT_ROWS)  # not preference rows
        assert info.value.status == _lib.ERR_INVALID_FORMAT
        trainer = grlhf.SFTTrainer(m, tok, SFT_ROWS, steps=1)
        trainer.metrics_path = tmp_path / "no" / "such" / "dir" / "m.jsonl"
        with pytest.raises(grlhf.Error) as info:
            trainer.step()
        assert info.value.status == _lib.ERR_IO and trainer.step_count == 0
        trainer.metrics_path = None
        trainer.step()
        trainer.close()
        trainer.close()
        with pytest.raises(ValueError, match="closed"):
            trainer.step()
        closed = model(config)
        closed.close()
        with pytest.raises(ValueError, match="closed"):
            grlhf.SFTTrainer(closed, tok, SFT_ROWS)
    gc.collect()
    assert grlhf.live_handles() == base


def test_trainers_free_their_handles(config: Path, tok: grlhf.Tokenizer) -> None:
    base = grlhf.live_handles()
    with model(config) as m:
        for _ in range(5):
            grlhf.GRPOTrainer(m, tok, PROMPTS, lambda p, c: [0.0] * len(c), steps=1)
            grlhf.SFTTrainer(m, tok, SFT_ROWS, steps=1)
        gc.collect()
    assert grlhf.live_handles() == base


def test_progress_without_tqdm_is_silent(config: Path, tok: grlhf.Tokenizer, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    monkeypatch.setitem(sys.modules, "tqdm", None)  # `import tqdm` raises ImportError
    with model(config) as m, grlhf.SFTTrainer(m, tok, SFT_ROWS, steps=2, batch_size=3) as trainer:
        metrics = trainer.train(progress=True)
    assert len(metrics) == 2 and all("loss" in step for step in metrics)


def test_progress_bar_uses_tqdm_when_installed(config: Path, tok: grlhf.Tokenizer,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types
    bars = []

    class FakeBar:
        def __init__(self, total: int, desc: str, leave: bool) -> None:
            self.total, self.desc, self.updates, self.closed, self.postfix = total, desc, 0, False, {}
            bars.append(self)

        def update(self, n: int) -> None:
            self.updates += n

        def set_postfix(self, **kwargs: str) -> None:
            self.postfix = kwargs

        def close(self) -> None:
            self.closed = True

    monkeypatch.setitem(sys.modules, "tqdm", types.SimpleNamespace(tqdm=FakeBar))
    with model(config) as m, grlhf.SFTTrainer(m, tok, SFT_ROWS, steps=3, batch_size=3) as trainer:
        trainer.train(progress=False)
        assert bars == []
        trainer.close()
    with model(config) as m, grlhf.SFTTrainer(m, tok, SFT_ROWS, steps=3, batch_size=3) as trainer:
        trainer.train(progress=True)
    [bar] = bars
    assert bar.total == 3 and bar.updates == 3 and bar.closed and bar.desc == "SFTTrainer"
    assert "loss" in bar.postfix
