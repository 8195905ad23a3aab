"""Tests of grlhf.Pipeline and grlhf.run_pipeline: the quick preset end to end on easy-VQA sets
written by ``grlhf-cli data easy-vqa`` (every reward model and policy in the summary, the summary
equal to summary.json, the log lines, a rerun resuming every stage), config overrides and their
errors, every config key settable (a key the C layer cannot check yet fails here), handles freed
exactly once, and an exception in the log callable.

Needs the easy-VQA data of ``make data`` (GRLHF_EASY_VQA overrides the folder) and grlhf-cli
beside the library (GRLHF_CLI overrides)."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest

import grlhf
from grlhf import _lib

ROOT = Path(__file__).resolve().parents[3]
EASY_VQA = Path(os.environ.get("GRLHF_EASY_VQA", ROOT / ".cache" / "data" / "easy_vqa"))
REWARD_MODELS = {"BT RM", "GRM (untrained)", "GRM+SFT", "GRM+RL"}
POLICIES = {"base (SFT)", "GRPO + BT RM", "GRPO + GRM", "GRPO + GRM+RL (grouped comparison)", "DPO"}


def cli_path() -> Path:
    explicit = os.environ.get("GRLHF_CLI")
    return Path(explicit) if explicit else Path(_lib.path).resolve().parent / "grlhf-cli"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not EASY_VQA.is_dir():
        pytest.fail(f"no easy-VQA data in {EASY_VQA}: run `make data` (or set GRLHF_EASY_VQA)")
    out = tmp_path_factory.mktemp("easy-vqa")
    subprocess.run([str(cli_path()), "data", "easy-vqa", "--source", str(EASY_VQA), "--out", str(out),
                    "--train", "24", "--test", "8", "--ood", "8", "--seed", "1"],
                   check=True, capture_output=True)
    return out


def check_summary(summary: Dict[str, Any]) -> None:
    assert summary["preset"] == "quick"
    assert set(summary["rewardModels"]) == REWARD_MODELS
    for result in summary["rewardModels"].values():
        assert all(math.isfinite(v) and 0 <= v <= 1 for v in (result["id"]["overall"], result["ood"]["overall"], result["parseFailures"]))
    assert set(summary["policies"]) == POLICIES
    for result in summary["policies"].values():
        assert 0 <= result["id"]["overall"] <= 1 and 0 <= result["ood"]["overall"] <= 1
    assert sorted(p["n"] for p in summary["scaling"]) == [2, 2, 3, 3]
    assert summary["idPairs"] == summary["oodPairs"] == 8


def test_quick_run_and_resume(data: Path, tmp_path: Path) -> None:
    before = grlhf.live_handles()
    lines: List[str] = []
    with grlhf.Pipeline(preset="quick", data=data, output=tmp_path / "run", seed=2) as pipeline:
        assert pipeline.summary is None
        assert pipeline.config["seed"] == 2 and pipeline.output == str(tmp_path / "run")
        summary = pipeline.run(log=lines.append)
        assert pipeline.summary == summary
    check_summary(summary)
    assert summary == json.loads((tmp_path / "run" / "summary.json").read_text())
    assert any(line.startswith("reward model") for line in lines)
    assert any(line.startswith("BT RM") for line in lines)
    assert not any("done earlier" in line for line in lines)
    stages = sorted(p.parent.name for p in (tmp_path / "run").glob("*/stage.done"))
    assert len(stages) >= 11
    assert json.loads((tmp_path / "run" / "config.json").read_text())["seed"] == 2

    lines.clear()
    again = grlhf.run_pipeline({"seed": 2}, preset="quick", data=data, output=tmp_path / "run", log=lines.append)
    resumed = sorted(line.split(":")[0] for line in lines if line.endswith(": done earlier"))
    assert resumed == stages
    assert again == summary  # every stage resumed: the same models, the same evaluation
    assert grlhf.live_handles() == before


def test_config_overrides_and_errors(tmp_path: Path) -> None:
    before = grlhf.live_handles()
    with grlhf.Pipeline({"sftSteps": 7}, preset="quick", output=tmp_path, policyGroup=4) as p:
        config = p.config
    assert config["name"] == "quick" and config["sftSteps"] == 7 and config["policyGroup"] == 4
    assert config["output"] == str(tmp_path)
    with grlhf.Pipeline({"data": tmp_path / "data"}, preset="quick") as p:  # paths may be os.PathLike
        assert p.config["data"] == str(tmp_path / "data")
    assert grlhf.Pipeline().config["name"] == "tiny"
    cases = [({"sftStep": 1}, "unknown pipeline config keys"), ({"sftSteps": 0}, "sftSteps"), ({"sftSteps": "many"}, "sftSteps"),
             ({"width": 36}, "width"), ({"patchSize": 5}, "patchSize"), ({"scalingGroups": [0]}, "scalingGroups"),
             ({"threads": 0}, "threads"), ({"policyLearningRate": -1.0}, "policyLearningRate")]
    for overrides, needle in cases:
        with pytest.raises(grlhf.Error, match=needle) as info:
            grlhf.Pipeline(overrides, preset="quick")
        assert info.value.status == _lib.ERR_INVALID_ARGUMENT
    with pytest.raises(grlhf.Error, match="preset"):
        grlhf.Pipeline(preset="huge")
    with pytest.raises(ValueError):  # NaN is not JSON
        grlhf.Pipeline({"policyLearningRate": float("nan")})
    assert grlhf.live_handles() == before


def test_every_config_key_is_settable() -> None:
    # Every key of the resolved config passed back in: a key PipelineConfig gained without a
    # range check in Sources/GRLHFC/Pipeline.swift is refused (GRLHF_ERR_UNSUPPORTED) and fails here.
    quick = grlhf.Pipeline(preset="quick").config
    assert len(quick) >= 20
    with grlhf.Pipeline(quick, preset="tiny") as p:
        assert p.config == quick


def test_python_reward_functions_need_the_cli(tmp_path: Path) -> None:
    # libgrlhf embeds no Python, so a config naming reward functions is refused up front.
    with pytest.raises(grlhf.Error, match="rewardFunctions need Python") as e:
        grlhf.Pipeline({"rewardFunctions": ["rewards.py:f"]}, preset="quick", output=tmp_path)
    assert e.value.status == _lib.ERR_UNSUPPORTED


def test_freed_exactly_once(tmp_path: Path) -> None:
    before = grlhf.live_handles()
    p = grlhf.Pipeline(preset="quick", output=tmp_path)
    assert grlhf.live_handles() == before + 1
    p.close()
    p.close()
    assert p.closed and grlhf.live_handles() == before
    with pytest.raises(ValueError, match="closed"):
        p.config
    q = grlhf.Pipeline(preset="quick", output=tmp_path)
    del q  # the finalizer frees it
    assert grlhf.live_handles() == before
    assert "closed" in repr(p)


def test_log_exception_is_raised_after_the_run(data: Path, tmp_path: Path) -> None:
    calls: List[str] = []

    def log(line: str) -> None:
        calls.append(line)
        raise KeyError("from the log")

    with grlhf.Pipeline(preset="quick", data=data, output=tmp_path / "run") as p:
        with pytest.raises(KeyError, match="from the log"):
            p.run(log=log)
        assert len(calls) == 1  # no more calls after the exception
        check_summary(p.summary)  # the run itself finished


def test_bad_data(tmp_path: Path) -> None:
    with grlhf.Pipeline(preset="quick", data=tmp_path / "missing", output=tmp_path / "out") as p:
        with pytest.raises(grlhf.Error, match="sft.jsonl") as info:
            p.run(log=None)
        assert info.value.status == _lib.ERR_IO
        assert p.summary is None
