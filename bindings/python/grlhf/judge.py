"""The generative reward model (judge) and grouped comparison over the C ABI (include/grlhf.h,
section "The generative reward model (judge) and grouped comparison").

>>> import grlhf
>>> judge = grlhf.Judge(model, tokenizer, max_new_tokens=256)            # doctest: +SKIP
>>> judge.compare("What is 2+2?", "4", "5")                              # doctest: +SKIP
{'scores': (8.0, 2.0), 'status': 'ok', 'text': '...\\\\boxed{8, 2}'}
>>> rewards, comparisons = judge.score_group("What is 2+2?", ["4", "5", "four"])  # doctest: +SKIP
>>> trainer = grlhf.GRPOTrainer(policy, tokenizer, "prompts.jsonl",
...                             grlhf.Reward.from_judge(judge))            # doctest: +SKIP

A judge does not copy its model: :meth:`Judge.trainer` (stage 1) trains it in place. Calls on
one judge run one at a time (the handle holds a lock); do not use the judge while its own
trainer steps.
"""

from __future__ import annotations

import ctypes
import inspect
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _lib
from ._handle import _Handle
from .models import Model, Tokenizer
from .training import GRPOTrainer, Reward, Rows, _RowsFile, _fill, _RLTrainer

__all__ = ["Judge", "PARSE_STATUSES", "AGGREGATORS", "PARSE_FAILURE_POLICIES"]

_c = _lib.lib
_PathLike = Union[str, "os.PathLike[str]"]

#: GRLHF_PARSE_* codes -> names (the engine's JudgeVerdict.ParseFailure raw values).
PARSE_STATUSES = {0: "ok", 1: "no_box", 2: "unclosed_box", 3: "not_a_number", 4: "wrong_count"}
#: grlhf_group_params.aggregator values.
AGGREGATORS = {"mean": 0, "borda": 1, "instant_runoff": 2, "ranked_pairs": 3, "spectral": 4}
#: grlhf_group_params.parse_failure values.
PARSE_FAILURE_POLICIES = {"drop": 0, "neutral": 1}


def _path(path: _PathLike) -> bytes:
    return os.fspath(path).encode("utf-8")


def _optional_path(path: Optional[_PathLike]) -> Optional[bytes]:
    return None if path is None else _path(path)


def group_params(both_orders: bool = True, parse_failure: str = "drop", aggregator: str = "mean",
                 lone_response_reward: float = 5.5, incomplete_reward: float = 0.0) -> _lib.GroupParams:
    """A grlhf_group_params from keyword values (names as strings)."""
    if parse_failure not in PARSE_FAILURE_POLICIES:
        raise ValueError(f"parse_failure must be one of {sorted(PARSE_FAILURE_POLICIES)}, got {parse_failure!r}")
    if aggregator not in AGGREGATORS:
        raise ValueError(f"aggregator must be one of {sorted(AGGREGATORS)}, got {aggregator!r}")
    params = _lib.GroupParams()
    _c.grlhf_group_params_default(ctypes.byref(params))
    params.both_orders = 1 if both_orders else 0
    params.parse_failure = PARSE_FAILURE_POLICIES[parse_failure]
    params.aggregator = AGGREGATORS[aggregator]
    params.lone_response_reward = float(lone_response_reward)
    params.incomplete_reward = float(incomplete_reward)
    return params


class Judge(_Handle):
    """The generative reward model on ``model`` (prompts rendered with ``tokenizer``).

    ``template``: a JSON template file (keys ``instruction``, ``body``, optionally
    ``instruction_placement`` and ``principles_hint``) or None for the paper's; ``principles``:
    a hint appended to every prompt; ``max_new_tokens`` per judgment; ``temperature`` 0 is greedy
    (the default, as the paper evaluates); ``seed`` seeds sampling.
    """

    _free = staticmethod(lambda h: _c.grlhf_judge_free(h))

    def __init__(self, model: Model, tokenizer: Tokenizer, template: Optional[_PathLike] = None,
                 principles: Optional[str] = None, max_new_tokens: int = 256, temperature: float = 0.0,
                 seed: int = 0) -> None:
        params = _lib.JudgeParams()
        _c.grlhf_judge_params_default(ctypes.byref(params))
        template_bytes = _optional_path(template)
        principles_bytes = None if principles is None else str(principles).encode("utf-8")
        params.template_path = template_bytes
        params.principles = principles_bytes
        _fill(params, {"max_new_tokens": max_new_tokens, "temperature": temperature, "seed": seed})
        handle = ctypes.c_void_p()
        _c.grlhf_judge_create(model.handle, tokenizer.handle, ctypes.byref(params), ctypes.byref(handle))
        self._adopt(handle.value)
        self.model, self.tokenizer = model, tokenizer

    def compare(self, question: str, response_1: str, response_2: str,
                image: Optional[_PathLike] = None) -> Dict[str, Any]:
        """Judges one comparison (``response_1`` shown first): ``{"scores": (s1, s2) or None,
        "status": "ok" | "no_box" | "unclosed_box" | "not_a_number" | "wrong_count",
        "text": the judge's output}``."""
        s1, s2 = ctypes.c_float(), ctypes.c_float()
        status, length = ctypes.c_int32(), ctypes.c_int64()
        args = (self.handle, _optional_path(image), question.encode("utf-8"), response_1.encode("utf-8"),
                response_2.encode("utf-8"), ctypes.byref(s1), ctypes.byref(s2), ctypes.byref(status))
        _c.grlhf_judge_compare(*args, None, 0, ctypes.byref(length))
        buf = ctypes.create_string_buffer(length.value + 1)
        _c.grlhf_judge_compare(*args, buf, length.value + 1, ctypes.byref(length))  # the judge's cached result
        name = PARSE_STATUSES.get(status.value, str(status.value))
        return {"scores": (s1.value, s2.value) if status.value == 0 else None, "status": name,
                "text": buf.raw[:length.value].decode("utf-8", "replace")}

    def score_group(self, question: str, responses: Sequence[str], image: Optional[_PathLike] = None,
                    complete: Optional[Sequence[bool]] = None, both_orders: bool = True,
                    parse_failure: str = "drop", aggregator: str = "mean", lone_response_reward: float = 5.5,
                    incomplete_reward: float = 0.0) -> Tuple[np.ndarray, List[Dict[str, Any]]]:
        """Rewards (float32, one per response) by grouped comparison, and every judgment made:
        dicts with "first" and "second" (indices of the responses shown as Response 1 and 2),
        "scores" ((s1, s2) or None), "status", "truncated" and "text". Incomplete responses
        (``complete[i]`` false) are judged against nothing and get ``incomplete_reward``."""
        params = group_params(both_orders, parse_failure, aggregator, lone_response_reward, incomplete_reward)
        n = len(responses)
        if complete is not None and len(complete) != n:
            raise ValueError(f"complete has {len(complete)} flags for {n} responses")
        rewards = np.empty(n, dtype=np.float32)
        texts = (ctypes.c_char_p * max(n, 1))(*[str(r).encode("utf-8") for r in responses])
        flags = None
        if complete is not None:
            flags = (ctypes.c_uint8 * max(n, 1))(*[1 if c else 0 for c in complete])
        diagnostics = ctypes.c_void_p()
        _c.grlhf_judge_score_group(self.handle, _optional_path(image), question.encode("utf-8"), texts, flags, n,
                                   ctypes.byref(params), rewards.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                   ctypes.byref(diagnostics))
        try:
            return rewards, _read_comparisons(diagnostics.value)
        finally:
            _c.grlhf_comparisons_free(diagnostics.value)

    def accuracy(self, pairs: Rows) -> Tuple[float, float]:
        """(accuracy, parse-failure rate) on preference pairs: a JSON Lines path or dicts with
        "question", "image" (optional), "response_1", "response_2", "preferred" (1 or 2).
        Accuracy counts pairs whose preferred response scored strictly higher."""
        accuracy, failures = ctypes.c_float(), ctypes.c_float()
        with _RowsFile(pairs) as path:
            _c.grlhf_judge_accuracy(self.handle, path, ctypes.byref(accuracy), ctypes.byref(failures))
        return float(accuracy.value), float(failures.value)

    def trainer(self, pairs: Rows, swap_augment: bool = False, *, metrics_path: Optional[_PathLike] = None,
                **grpo_params: Any) -> GRPOTrainer:
        """A stage-1 GRPO trainer of this judge's model (trained in place) on preference pairs,
        rewarded by accuracy. ``grpo_params`` are :class:`GRPOTrainer`'s keyword arguments;
        unset ones take the paper's stage-1 values (GRPOTrainer's defaults with
        ``max_new_tokens=256``)."""
        allowed = {p.name for p in inspect.signature(GRPOTrainer.__init__).parameters.values()
                   if p.kind is inspect.Parameter.KEYWORD_ONLY} - {"reference", "metrics_path"}
        unknown = set(grpo_params) - allowed
        if unknown:
            raise TypeError(f"unknown GRPO parameters: {sorted(unknown)}")
        values = dict(grpo_params)
        values.setdefault("max_new_tokens", 256)
        stop_list = values.pop("stop_tokens", ())
        params = _lib.GRPOParams()
        _c.grlhf_grpo_params_default(ctypes.byref(params))
        _fill(params, values)
        trainer = GRPOTrainer.__new__(GRPOTrainer)
        stops = _RLTrainer._stops(params, stop_list)
        trainer._reward = None
        trainer._owns_reward = False
        trainer.model, trainer.reference, trainer.tokenizer = self.model, None, self.tokenizer
        trainer.judge = self
        with _RowsFile(pairs) as path:
            trainer._start(_c.grlhf_judge_trainer_create, self.handle, path, 1 if swap_augment else 0,
                           ctypes.byref(params), metrics_path=metrics_path)
        del stops
        return trainer

    def reward(self, **group: Any) -> Reward:
        """This judge as a GRPO/PPO reward by grouped comparison (see :meth:`Reward.from_judge`)."""
        return Reward.from_judge(self, **group)

    def __repr__(self) -> str:
        return "grlhf.Judge(closed)" if self.closed else "grlhf.Judge()"


def _read_comparisons(handle: Optional[int]) -> List[Dict[str, Any]]:
    count = ctypes.c_int64()
    _c.grlhf_comparisons_count(handle, ctypes.byref(count))
    out = []
    for i in range(count.value):
        first, second = ctypes.c_int64(), ctypes.c_int64()
        s1, s2 = ctypes.c_float(), ctypes.c_float()
        status, truncated = ctypes.c_int32(), ctypes.c_int32()
        text = ctypes.c_char_p()
        _c.grlhf_comparisons_get(handle, i, ctypes.byref(first), ctypes.byref(second), ctypes.byref(s1),
                                 ctypes.byref(s2), ctypes.byref(status), ctypes.byref(truncated), ctypes.byref(text))
        out.append({"first": first.value, "second": second.value,
                    "scores": (s1.value, s2.value) if status.value == 0 else None,
                    "status": PARSE_STATUSES.get(status.value, str(status.value)),
                    "truncated": bool(truncated.value),
                    "text": (text.value or b"").decode("utf-8", "replace")})
    return out
