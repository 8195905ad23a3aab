"""Reward functions for grlhf's tests of in-process Python rewards (GRLHFPythonTests and
Tests/cli/python_reward.sh): verl's and TRL's conventions, the arguments each receives, and
every way a reward can fail."""
import json
import os
import sys
import threading
import time

import numpy as np

# A background thread that counts ticks. It advances only while no one holds the GIL: if grlhf
# kept the GIL between reward calls, it would stand still while the trainer works.
ticks = 0


def _count():
    global ticks
    while True:
        ticks += 1
        time.sleep(0.001)


threading.Thread(target=_count, daemon=True).start()

# Where this module was imported from, for the CLI test (which numpy, which Python).
if os.environ.get("GRLHF_TEST_REPORT"):
    with open(os.environ["GRLHF_TEST_REPORT"], "w") as f:
        json.dump({"numpy": np.__file__, "version": sys.version, "path": sys.path}, f)


# --- verl: compute_score(data_source, solution_str, ground_truth, extra_info) per completion

def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    """1 when the completion names the ground truth; the dict's other entries become metrics."""
    hit = ground_truth is not None and ground_truth.lower() in solution_str.lower()
    return {"score": 1.0 if hit else 0.0, "ticks": float(ticks), "clock_ms": time.monotonic() * 1000,
            "length": float(len(solution_str))}


def check_verl_args(data_source, solution_str, ground_truth, extra_info=None):
    """Raises unless it gets the row of GRLHFPythonTests.row; returns the completion's length."""
    assert data_source == "colors", data_source
    assert ground_truth == "blue", ground_truth
    assert isinstance(solution_str, str)
    assert extra_info["index"] == 7 and isinstance(extra_info["index"], int), extra_info
    assert extra_info["difficulty"] == 2 and extra_info["tags"] == ["a", "b"], extra_info
    assert extra_info["question"] == "What color is the sky?" and extra_info["image"] is None, extra_info
    assert extra_info["truncated"] in (True, False) and "data_source" not in extra_info, extra_info
    return len(solution_str)


def positional(source, text, truth):
    """verl's convention with other parameter names: called by position."""
    assert source == "colors" and truth == "blue", (source, truth)
    return np.float32(len(text))


def raises(data_source, solution_str, ground_truth, extra_info=None):
    return _helper(solution_str)


def _helper(solution_str):
    raise ValueError("no reward for %r" % solution_str)


def not_a_number(data_source, solution_str, ground_truth, extra_info=None):
    return "high"


def no_score(data_source, solution_str, ground_truth, extra_info=None):
    return {"acc": 1.0}


# --- TRL: reward_func(prompts, completions, **kwargs) -> list[float] per rollout batch

def length_reward(prompts, completions, **kwargs):
    """A tenth of each completion's length, as a numpy array."""
    return np.array([len(c) for c in completions], dtype=np.float64) / 10


batches = 0


def batch_calls(prompts, completions, **kwargs):
    """Which call this is: every completion of a batch gets the same number."""
    global batches
    batches += 1
    return [float(batches)] * len(completions)


def check_trl_args(prompts, completions, ground_truth, completion_ids, truncated, **kwargs):
    n = len(completions)
    assert len(prompts) == n and prompts[0] == "What color is the sky?", prompts
    assert ground_truth == ["blue"] * n, ground_truth
    assert [len(ids) for ids in completion_ids] == [len(c) for c in completions], completion_ids
    assert truncated == [False] * (n - 1) + [True], truncated
    assert kwargs["data_source"] == ["colors"] * n and kwargs["difficulty"] == [2] * n, kwargs
    assert kwargs["extra_info"] == [{"index": 7}] * n and kwargs["image"] == [None] * n, kwargs
    return [1.0] * n


third = 0


def fails_on_third_batch(prompts, completions, **kwargs):
    """Fine twice, then raises: a run that fails part-way."""
    global third
    third += 1
    if third == 3:
        raise RuntimeError("the third batch fails")
    return [float(len(c)) for c in completions]


def tick_count(prompts, completions, **kwargs):
    return [float(ticks)] * len(completions)


def returns_nan(prompts, completions, **kwargs):
    return [1.0] + [float("nan")] * (len(completions) - 1)


def wrong_length(prompts, completions, **kwargs):
    return [1.0] * (len(completions) - 1)


def returns_none(prompts, completions, **kwargs):
    return [None] * len(completions)


def only_long(prompts, completions, **kwargs):
    """TRL's None where the reward does not apply: completions under 3 characters."""
    return [None if len(c) < 3 else 2.0 for c in completions]


def returns_text(prompts, completions, **kwargs):
    return ["high"] * len(completions)


# --- neither

def ambiguous(x):
    return 0.0
