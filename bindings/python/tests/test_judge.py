"""Tests of the generative judge through the bindings: Judge.compare, Judge.score_group (counts,
incomplete responses, orders, aggregators), a multimodal judge, Reward.from_judge in GRPO and
PPO, the stage-1 trainer, accuracy, errors, and PARITY with the Swift API: a judge trained here
(SFT on judge-formatted rows, so it writes boxed scores) is saved, and ``grlhf-cli judge --json``
(which calls the engine's GroupedComparisonReward) must give the same rewards and judgments.
The CLI is looked up beside the library (GRLHF_CLI overrides)."""

from __future__ import annotations

import gc
import json
import math
import os
import shutil
import subprocess
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
          "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
          "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 256,
          "tie_word_embeddings": True}
TEMPLATE = {"instruction": "Score.", "body": "{question}\n1: {response_1}\n2: {response_2}"}
QUESTION = "What color is the sky?"
RESPONSES = ["blue", "red", "green", "purple"]
QUALITY = {"blue": 9, "green": 4, "red": 2}
PAIRS = [{"question": QUESTION, "response_1": "blue", "response_2": "red", "preferred": 1},
         {"question": "What color is grass?", "response_1": "red", "response_2": "green", "preferred": 2}]
PROMPTS = [{"question": QUESTION}, {"question": "What color is grass?"}]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict:
    d = tmp_path_factory.mktemp("judge")
    (d / "config.json").write_text(json.dumps(CONFIG))
    (d / "template.json").write_text(json.dumps(TEMPLATE))
    return {"dir": d, "config": d / "config.json", "template": d / "template.json"}


@pytest.fixture(scope="module")
def tok() -> grlhf.Tokenizer:
    with grlhf.Tokenizer(TOKENIZER) as t:
        yield t


def judge_rows() -> list:
    """SFT rows teaching a tiny model to write "Scores: \\boxed{a, b}" in the test template."""
    return [{"system": "Score.", "question": f"{QUESTION}\n1: {a}\n2: {b}",
             "response": "Scores: \\boxed{%d, %d}" % (QUALITY[a], QUALITY[b])}
            for a in QUALITY for b in QUALITY if a != b]


def cli_path() -> Path:
    explicit = os.environ.get("GRLHF_CLI")
    return Path(explicit) if explicit else Path(_lib.path).resolve().parent / "grlhf-cli"


def test_compare(files: dict, tok: grlhf.Tokenizer) -> None:
    with grlhf.Model.init(files["config"], seed=3) as m, grlhf.Judge(m, tok, template=files["template"], max_new_tokens=8) as j:
        r = j.compare(QUESTION, "blue", "red")
        assert set(r) == {"scores", "status", "text"}
        assert r["status"] in grlhf.judge.PARSE_STATUSES.values()
        assert (r["scores"] is None) == (r["status"] != "ok")
        assert isinstance(r["text"], str)
        assert j.compare(QUESTION, "blue", "red") == r  # greedy: the same judgment


def test_score_group_counts(files: dict, tok: grlhf.Tokenizer) -> None:
    base = grlhf.live_handles()
    with grlhf.Model.init(files["config"], seed=3) as m, grlhf.Judge(m, tok, template=files["template"], max_new_tokens=6) as j:
        rewards, comparisons = j.score_group(QUESTION, RESPONSES)
        assert rewards.shape == (4,) and rewards.dtype == np.float32 and np.isfinite(rewards).all()
        assert len(comparisons) == 12
        assert [(c["first"], c["second"]) for c in comparisons[:2]] == [(0, 1), (1, 0)]
        assert {"first", "second", "scores", "status", "truncated", "text"} == set(comparisons[0])
        _, once = j.score_group(QUESTION, RESPONSES, both_orders=False)
        assert len(once) == 6
        rewards, comparisons = j.score_group(QUESTION, RESPONSES, complete=[True, False, True, True])
        assert rewards[1] == 0 and len(comparisons) == 6
        assert all(1 not in (c["first"], c["second"]) for c in comparisons)
        rewards, comparisons = j.score_group(QUESTION, ["only"])
        assert rewards.tolist() == [5.5] and comparisons == []
        for aggregator in grlhf.judge.AGGREGATORS:
            rewards, _ = j.score_group(QUESTION, RESPONSES[:3], aggregator=aggregator, parse_failure="neutral")
            assert np.isfinite(rewards).all()
        with pytest.raises(ValueError, match="aggregator"):
            j.score_group(QUESTION, RESPONSES, aggregator="plurality")
        with pytest.raises(ValueError, match="complete"):
            j.score_group(QUESTION, RESPONSES, complete=[True])
        with pytest.raises(grlhf.Error) as e:
            j.score_group(QUESTION, RESPONSES, lone_response_reward=math.inf)
        assert e.value.status == _lib.ERR_INVALID_ARGUMENT
    gc.collect()
    assert grlhf.live_handles() == base


def test_multimodal(files: dict, tok: grlhf.Tokenizer) -> None:
    with grlhf.Model.init(MM_CONFIG, seed=5) as m, grlhf.Judge(m, tok, template=files["template"], max_new_tokens=4) as j:
        rewards, comparisons = j.score_group("What is in the picture?", RESPONSES[:3], image=PNG)
        assert len(comparisons) == 6 and np.isfinite(rewards).all()
        assert j.compare("What is in it?", "stripes", "a cat", image=PNG)["status"] in grlhf.judge.PARSE_STATUSES.values()
        with pytest.raises(grlhf.Error) as e:
            j.score_group("What?", RESPONSES[:3], image=files["dir"] / "missing.png")
        assert e.value.status == _lib.ERR_IO
    with grlhf.Model.init(files["config"], seed=1) as m, grlhf.Judge(m, tok) as j:
        with pytest.raises(grlhf.Error, match="text-only"):
            j.compare("What?", "a", "b", image=PNG)


def test_parity_with_swift_cli(files: dict, tok: grlhf.Tokenizer) -> None:
    cli = cli_path()
    if not cli.is_file():
        pytest.skip(f"no {cli}; build grlhf-cli beside the library or set GRLHF_CLI")
    with grlhf.Model.init(files["config"], seed=7) as m:
        with grlhf.SFTTrainer(m, tok, judge_rows(), steps=100, batch_size=6, learning_rate=1e-2, seed=7,
                              warmup_ratio=0.0, schedule="constant") as t:
            t.train(progress=False)
        model_dir = files["dir"] / "judge-model"
        m.save(model_dir)
        shutil.copy(TOKENIZER, model_dir / "tokenizer.json")
        with grlhf.Judge(m, tok, template=files["template"], max_new_tokens=24) as j:
            for flags, kwargs in [([], {}),
                                  (["--one-order", "--aggregator", "ranked_pairs", "--parse-failure", "neutral",
                                    "--incomplete", "2"],
                                   dict(both_orders=False, aggregator="ranked_pairs", parse_failure="neutral",
                                        complete=[True, True, False, True]))]:
                rewards, comparisons = j.score_group(QUESTION, RESPONSES, **kwargs)
                args = [str(cli), "judge", "--model", str(model_dir), "--template", str(files["template"]),
                        "--max-tokens", "24", "--question", QUESTION, "--json"]
                for r in RESPONSES:
                    args += ["--response", r]
                out = subprocess.run(args + flags, check=True, capture_output=True, text=True).stdout
                swift = json.loads(out)
                assert rewards.tolist() == np.asarray(swift["rewards"], dtype=np.float32).tolist()
                assert len(comparisons) == len(swift["comparisons"])
                for ours, theirs in zip(comparisons, swift["comparisons"]):
                    assert (ours["first"], ours["second"], ours["status"], ours["text"], ours["truncated"]) == \
                        (theirs["first"], theirs["second"], theirs["status"], theirs["text"], theirs["truncated"])
                    if ours["scores"] is not None and all(math.isfinite(s) for s in ours["scores"]):
                        assert list(ours["scores"]) == theirs["scores"]
                assert sum(c["status"] == "ok" for c in comparisons) >= 3  # the trained judge writes boxes
            # compare() against the CLI's two-response mode
            r = j.compare(QUESTION, "blue", "green")
            out = subprocess.run([str(cli), "judge", "--model", str(model_dir), "--template", str(files["template"]),
                                  "--max-tokens", "24", "--question", QUESTION, "--response-1", "blue",
                                  "--response-2", "green", "--json"], check=True, capture_output=True, text=True).stdout
            swift = json.loads(out)
            assert (r["status"], r["text"]) == (swift["status"], swift["text"])
            assert r["scores"] == (9.0, 4.0) and swift["scores"] == [9, 4]


def test_reward_from_judge_in_grpo_and_ppo(files: dict, tok: grlhf.Tokenizer) -> None:
    base = grlhf.live_handles()
    with grlhf.Model.init(files["config"], seed=3) as jm, grlhf.Model.init(files["config"], seed=4) as policy:
        j = grlhf.Judge(jm, tok, template=files["template"], max_new_tokens=4)
        reward = grlhf.Reward.from_judge(j, both_orders=False)
        with grlhf.GRPOTrainer(policy, tok, PROMPTS, reward, steps=2, prompts_per_step=1, group_size=3,
                               max_new_tokens=4) as t:
            m = t.step()
            assert m["judge/calls"] <= 3 and math.isfinite(m["judge/parse_failure_rate"])
        with j.reward() as second, grlhf.PPOTrainer(policy, tok, PROMPTS, second, steps=1, prompts_per_step=1,
                                                    completions_per_prompt=2, max_new_tokens=4) as t:
            assert "judge/calls_per_group" in t.step()
        reward.close()
        j.close()
    gc.collect()
    assert grlhf.live_handles() == base


def test_stage1_trainer_and_accuracy(files: dict, tok: grlhf.Tokenizer) -> None:
    with grlhf.Model.init(files["config"], seed=3) as m, grlhf.Judge(m, tok, template=files["template"], max_new_tokens=8) as j:
        accuracy, failures = j.accuracy(PAIRS)
        assert 0 <= accuracy <= 1 and 0 <= failures <= 1
        with j.trainer(PAIRS, swap_augment=True, steps=2, prompts_per_step=2, group_size=2, max_new_tokens=8,
                       learning_rate=1e-3) as t:
            assert isinstance(t, grlhf.GRPOTrainer)
            m1 = t.step()
            assert 0 <= m1["reward"] <= 1 and "judge/output_length" in m1
            assert t.progress == (1, 2)
        with j.trainer(PAIRS) as t:
            assert t.progress == (0, 100)
        with pytest.raises(TypeError, match="unknown GRPO"):
            j.trainer(PAIRS, beta=0.1)


def test_errors(files: dict, tok: grlhf.Tokenizer) -> None:
    with grlhf.Model.init(files["config"], seed=3) as m:
        with pytest.raises(grlhf.Error) as e:
            grlhf.Judge(m, tok, template=files["dir"] / "missing.json")
        assert e.value.status == _lib.ERR_IO
        bad = files["dir"] / "bad.json"
        bad.write_text('{"instruction": "x", "body": "{question} only"}')
        with pytest.raises(grlhf.Error) as e:
            grlhf.Judge(m, tok, template=bad)
        assert e.value.status == _lib.ERR_INVALID_FORMAT
        with pytest.raises(grlhf.Error, match="max_new_tokens"):
            grlhf.Judge(m, tok, max_new_tokens=0)
        with pytest.raises(grlhf.Error, match="temperature"):
            grlhf.Judge(m, tok, temperature=-1)
        j = grlhf.Judge(m, tok, principles="be kind", max_new_tokens=2)
        j.close()
        with pytest.raises(ValueError, match="closed"):
            j.compare("q", "a", "b")
