"""Trainers (SFT, Bradley-Terry reward model, DPO, GRPO, PPO), reward models and reward functions over
the C ABI (include/grlhf.h, section "Training").

>>> import grlhf
>>> model = grlhf.Model.init("config.json", seed=0)                       # doctest: +SKIP
>>> tok = grlhf.Tokenizer("tokenizer.json")                                # doctest: +SKIP
>>> with grlhf.SFTTrainer(model, tok, "sft.jsonl", steps=100, learning_rate=1e-4) as t:
...     t.train(callback=lambda step, m: print(step, m["loss"]))         # doctest: +SKIP
>>> model.save("sft-model")                                                # doctest: +SKIP

Every trainer trains its model in place: the ``Model`` passed in holds the trained weights.
Data are JSON Lines files (paths) or lists of dicts with the same keys:

* SFT: ``{"question", "image" (optional PNG path), "response"}``
* reward model and DPO: ``{"question", "image", "response_1", "response_2", "preferred": 1 or 2}``
* GRPO and PPO prompts: ``{"question", "image", "ground_truth" (optional)}``

A GRPO or PPO reward is a Python callable ``f(prompt, completions) -> list of floats`` (one per
completion), a :class:`RewardModel`, a rule's name (``"contains-ground-truth"``) or a
:class:`Reward`. ``prompt`` is a dict with
"question", "image" and "ground_truth" (None when absent), and about the completions
"completion_tokens" (int32 arrays) and "truncated" (bools: hit ``max_new_tokens``). An exception
in the callable fails the step: :class:`grlhf.Error` with status ``ERR_CALLBACK`` whose message
carries the exception's text, raised ``from`` the exception; the trainer is left as it was.
"""

from __future__ import annotations

import ctypes
import inspect
import json
import math
import os
import sys
import tempfile
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _lib
from ._handle import _Handle
from .models import Model, Tokenizer, _ids_array

__all__ = ["SFTTrainer", "RewardModelTrainer", "DPOTrainer", "GRPOTrainer", "PPOTrainer", "RewardModel",
           "Reward", "Trainer"]

_c = _lib.lib
_PathLike = Union[str, "os.PathLike[str]"]
#: Rows: a JSON Lines path, or dicts with the keys the trainer reads.
Rows = Union[_PathLike, Iterable[Mapping[str, Any]]]
Metrics = Dict[str, float]
MetricsCallback = Callable[[int, Metrics], Optional[bool]]
RewardCallable = Callable[[Dict[str, Any], List[str]], Sequence[float]]

SCHEDULES = {"constant": 0, "linear": 1, "cosine": 2}
#: Keyword arguments whose struct field has another name (``lambda`` is a Python keyword).
_FIELD_NAMES = {"lam": "lambda"}
KL_ESTIMATORS = {"k1": 0, "k3": 1}


def _path(path: _PathLike) -> bytes:
    return os.fspath(path).encode("utf-8")


def _text(value: Optional[bytes]) -> Optional[str]:
    return None if value is None else value.decode("utf-8", "replace")


class _RowsFile:
    """A JSON Lines path for ``rows``: the path itself, or a temporary file holding in-memory rows
    (relative image paths made absolute against the working directory) for the duration of a
    ``with`` block; the constructors read every row before they return."""

    def __init__(self, rows: Rows) -> None:
        self._rows = rows
        self._dir: Optional[tempfile.TemporaryDirectory] = None

    def __enter__(self) -> bytes:
        if isinstance(self._rows, (str, bytes, os.PathLike)):
            return _path(os.fsdecode(self._rows))
        self._dir = tempfile.TemporaryDirectory(prefix="grlhf-rows-")
        path = os.path.join(self._dir.name, "rows.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for row in self._rows:
                row = dict(row)
                if row.get("image") is not None:
                    row["image"] = os.path.abspath(os.fspath(row["image"]))
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        return _path(path)

    def __exit__(self, *exc: object) -> None:
        if self._dir is not None:
            self._dir.cleanup()


def _fill(params: ctypes.Structure, values: Mapping[str, Any]) -> None:
    """Sets struct fields from keyword values (enums by name, flags as bools)."""
    for name, value in values.items():
        field_name = _FIELD_NAMES.get(name, name)
        if name in ("schedule", "critic_schedule"):
            if value not in SCHEDULES:
                raise ValueError(f"{name} must be one of {sorted(SCHEDULES)}, got {value!r}")
            value = SCHEDULES[value]
        elif name == "kl_estimator":
            if value not in KL_ESTIMATORS:
                raise ValueError(f"kl_estimator must be one of {sorted(KL_ESTIMATORS)}, got {value!r}")
            value = KL_ESTIMATORS[value]
        elif name == "seed":
            if not 0 <= int(value) < 2 ** 64:
                raise ValueError(f"seed {value} is outside 0..2**64-1")
        elif name in ("freeze_vision_tower", "mask_truncated", "whiten_advantages"):
            value = 1 if value else 0
        field = dict(params._fields_)[field_name]
        if field in (ctypes.c_float, ctypes.c_double):
            value = float(value)
        else:
            value = int(value)
            bits = ctypes.sizeof(field) * 8
            low, high = (0, 2 ** bits) if field in (ctypes.c_uint32, ctypes.c_uint64) else (-2 ** (bits - 1), 2 ** (bits - 1))
            if not low <= value < high:
                raise ValueError(f"{name} {value} does not fit its {bits}-bit field")
        setattr(params, field_name, value)


def _params(struct: type, default: Callable[..., int], values: Mapping[str, Any]) -> ctypes.Structure:
    params = struct()
    default(ctypes.byref(params))
    _fill(params, values)
    return params


def _keywords(frame_locals: Mapping[str, Any], function: Callable[..., Any]) -> Dict[str, Any]:
    """The keyword-only arguments of ``function`` as passed (the params fields)."""
    names = [p.name for p in inspect.signature(function).parameters.values()
             if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in ("reference", "critic", "metrics_path")]
    return {name: frame_locals[name] for name in names}


# ---- reward models and rewards -----------------------------------------------------------------

class RewardModel(_Handle):
    """A Bradley-Terry reward model: a causal LM's last hidden state through a scalar head.

    ``RewardModel(model, seed=0)`` puts a new head on ``model`` and SHARES its weights (training
    the reward model trains ``model``); :meth:`load` reads a saved reward model directory.
    """

    _free = staticmethod(lambda h: _c.grlhf_reward_model_free(h))

    def __init__(self, model: Model, seed: int = 0) -> None:
        if not 0 <= int(seed) < 2 ** 64:
            raise ValueError(f"seed {seed} is outside 0..2**64-1")
        handle = ctypes.c_void_p()
        _c.grlhf_reward_model_create(model.handle, int(seed), ctypes.byref(handle))
        self._adopt(handle.value)
        self.model: Optional[Model] = model

    @classmethod
    def load(cls, directory: _PathLike) -> "RewardModel":
        """Reads a directory written by :meth:`save` (a model directory plus score.safetensors)."""
        handle = ctypes.c_void_p()
        _c.grlhf_reward_model_load(_path(directory), ctypes.byref(handle))
        rm = cls.__new__(cls)
        rm._adopt(handle.value)
        rm.model = None
        return rm

    def save(self, directory: _PathLike) -> None:
        """Writes config.json, model.safetensors and score.safetensors into ``directory``."""
        _c.grlhf_reward_model_save(self.handle, _path(directory))

    def score(self, tokenizer: Tokenizer, rows: Iterable[Any]) -> np.ndarray:
        """Scores (float32) of rows: dicts with "question", "response" and optionally "image",
        or tuples (question, response) or (question, image, response)."""
        questions, images, responses = [], [], []
        for row in rows:
            if isinstance(row, Mapping):
                q, image, r = row["question"], row.get("image"), row["response"]
            elif len(row) == 2:
                (q, r), image = row, None
            else:
                q, image, r = row
            questions.append(str(q).encode("utf-8"))
            images.append(None if image is None else _path(image))
            responses.append(str(r).encode("utf-8"))
        n = len(questions)
        out = np.empty(n, dtype=np.float32)
        if n == 0:
            return out
        array = ctypes.c_char_p * n
        image_array = array(*images) if any(i is not None for i in images) else None
        _c.grlhf_reward_model_score(self.handle, tokenizer.handle, n, array(*questions), image_array,
                                    array(*responses), out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        return out

    def reward(self, tokenizer: Tokenizer) -> "Reward":
        """This reward model as a GRPO reward (each completion scored alone with ``tokenizer``)."""
        return Reward.from_reward_model(self, tokenizer)

    def __repr__(self) -> str:
        return "grlhf.RewardModel(closed)" if self.closed else "grlhf.RewardModel()"


class Reward(_Handle):
    """A GRPO reward function: ``Reward(callable)`` wraps ``f(prompt, completions) -> rewards``
    (see the module docstring); :meth:`from_reward_model` scores with a reward model,
    :meth:`from_judge` by grouped comparison with a generative judge, :meth:`rule` by a rule."""

    _free = staticmethod(lambda h: _c.grlhf_reward_free(h))

    def __init__(self, fn: RewardCallable) -> None:
        if not callable(fn):
            raise TypeError(f"a reward must be callable, got {type(fn).__name__}")
        self.function: Optional[RewardCallable] = fn
        self._exception: Optional[BaseException] = None
        # The C callback object must outlive every trainer using this reward: trainers keep a
        # reference to this Reward, and close() leaves the callback in place.
        self._callback = _lib.REWARD_FN(self._call)
        handle = ctypes.c_void_p()
        _c.grlhf_reward_create(self._callback, None, ctypes.byref(handle))
        self._adopt(handle.value)

    @classmethod
    def _from_handle(cls, handle: Optional[int], what: str) -> "Reward":
        reward = cls.__new__(cls)
        reward.function = None
        reward._exception = None
        reward._callback = None
        reward._what = what
        reward._adopt(handle)
        return reward

    @classmethod
    def from_reward_model(cls, reward_model: RewardModel, tokenizer: Tokenizer) -> "Reward":
        """Scores each completion alone with ``reward_model`` (prompts rendered with ``tokenizer``)."""
        handle = ctypes.c_void_p()
        _c.grlhf_reward_from_reward_model(reward_model.handle, tokenizer.handle, ctypes.byref(handle))
        reward = cls._from_handle(handle.value, "reward model")
        reward._reward_model = reward_model
        return reward

    @classmethod
    def from_judge(cls, judge: Any, *, both_orders: bool = True, parse_failure: str = "drop",
                   aggregator: str = "mean", lone_response_reward: float = 5.5,
                   incomplete_reward: float = 0.0) -> "Reward":
        """Grouped comparison by a :class:`grlhf.Judge`: each prompt's complete completions are
        judged pairwise (both orders, or once) and rewarded by ``aggregator`` ("mean", "borda",
        "instant_runoff", "ranked_pairs", "spectral"); truncated ones get ``incomplete_reward``.
        Trainer steps add "judge/calls", "judge/calls_per_group", "judge/parse_failure_rate"."""
        from .judge import group_params
        params = group_params(both_orders, parse_failure, aggregator, lone_response_reward, incomplete_reward)
        handle = ctypes.c_void_p()
        _c.grlhf_reward_from_judge(judge.handle, ctypes.byref(params), ctypes.byref(handle))
        reward = cls._from_handle(handle.value, "judge")
        reward._judge = judge
        return reward

    @classmethod
    def rule(cls, name: str) -> "Reward":
        """A built-in rule: "contains-ground-truth" (1 when the completion contains the prompt's
        ground_truth, ignoring case, else 0; trainers refuse prompts without one)."""
        handle = ctypes.c_void_p()
        _c.grlhf_reward_rule(name.encode("utf-8"), ctypes.byref(handle))
        return cls._from_handle(handle.value, name)

    def _call(self, _user: Any, group_p: Any, out: Any) -> int:
        try:
            g = group_p.contents
            n = g.count
            lengths = [g.lengths[i] for i in range(n)]
            prompt = {
                "question": _text(g.question),
                "image": _text(g.image),
                "ground_truth": _text(g.ground_truth),
                "completion_tokens": [np.ctypeslib.as_array(g.tokens[i], (lengths[i],)).copy()
                                      if lengths[i] else np.empty(0, np.int32) for i in range(n)],
                "truncated": [bool(g.truncated[i]) for i in range(n)],
            }
            completions = [_text(g.completions[i]) or "" for i in range(n)]
            assert self.function is not None
            rewards = np.asarray(self.function(prompt, completions), dtype=np.float64).reshape(-1)
            if rewards.size != n:
                raise ValueError(f"the reward function returned {rewards.size} rewards for {n} completions")
            for i in range(n):
                out[i] = float(rewards[i])
            return 0
        except BaseException as e:  # nothing may propagate into C
            self._exception = e
            text = f"{type(e).__name__}: {e}"
            _c.grlhf_set_callback_error(text.encode("utf-8", "replace"))
            return 1

    def _take_exception(self) -> Optional[BaseException]:
        e, self._exception = self._exception, None
        return e

    def __repr__(self) -> str:
        what = getattr(self, "_what", "") if self.function is None else getattr(self.function, "__name__", "callable")
        return f"grlhf.Reward({what}{', closed' if self.closed else ''})"


# ---- trainers ----------------------------------------------------------------------------------

def _tqdm(progress: Optional[bool]) -> Any:
    if progress is False:
        return None
    try:
        from tqdm import tqdm  # type: ignore
    except ImportError:
        return None
    if progress is None and not sys.stderr.isatty():
        return None
    return tqdm


class Trainer(_Handle):
    """What every trainer shares: stepping, training with a callback, metrics, checkpoints.

    Use one trainer from one thread at a time, and do not use its models elsewhere while it
    steps. ``with`` blocks (or :meth:`close`) free it; the trained weights stay in the models.
    """

    _free = staticmethod(lambda h: _c.grlhf_trainer_free(h))
    _reward: Optional[Reward] = None
    _callback_exception: Optional[BaseException] = None

    def _start(self, create: Callable[..., int], *args: Any, metrics_path: Optional[_PathLike]) -> None:
        handle = ctypes.c_void_p()
        create(*args, ctypes.byref(handle))
        self._adopt(handle.value)
        if metrics_path is not None:
            self.metrics_path = metrics_path

    def _run(self, function: Callable[..., int], *args: Any) -> None:
        """Calls a stepping C function; a failed reward callable surfaces as grlhf.Error raised
        from the callable's own exception (KeyboardInterrupt and the like as themselves)."""
        try:
            function(self.handle, *args)
        except _lib.Error as error:
            cause = self._reward._take_exception() if self._reward is not None else None
            if cause is None:
                raise
            if not isinstance(cause, Exception):
                raise cause from None
            raise error from cause

    def step(self) -> Metrics:
        """Runs one step and returns its metrics. A step that fails changes nothing."""
        self._run(_c.grlhf_trainer_step)
        return self.metrics

    def train(self, steps: Optional[int] = None, callback: Optional[MetricsCallback] = None, *,
              progress: Optional[bool] = None, checkpoint_dir: Optional[_PathLike] = None,
              checkpoint_every: int = 0) -> List[Metrics]:
        """Runs to the end of the run (``steps`` None) or at most ``steps`` more, and returns the
        metrics of the steps run. ``callback(step, metrics)`` is called after each step;
        returning False stops cleanly (an exception in it stops too, and is re-raised).
        ``progress``: a tqdm bar (True; None: when tqdm is installed and stderr is a terminal).
        With ``checkpoint_dir``, saves a checkpoint every ``checkpoint_every`` steps (0: only)
        and at the end of the call."""
        if steps is not None and int(steps) < 0:
            raise ValueError(f"steps {steps} is negative")
        start, total = self.progress
        end = total if steps is None else min(total, start + int(steps))
        bar_type = _tqdm(progress)
        bar = bar_type(total=max(end - start, 0), desc=type(self).__name__, leave=False) if bar_type else None
        results: List[Metrics] = []
        saved = -1
        self._callback_exception = None

        def on_step(_user: Any, step: int, count: int, names: Any, values: Any) -> int:
            try:
                metrics = {names[i].decode("utf-8"): values[i] for i in range(count)}
                results.append(metrics)
                nonlocal saved
                if checkpoint_dir is not None and checkpoint_every > 0 and step % checkpoint_every == 0:
                    self.save_checkpoint(checkpoint_dir)
                    saved = step
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{metrics.get('loss', math.nan):.4f}")
                if callback is not None and callback(step, metrics) is False:
                    return 1
                return 0
            except BaseException as e:  # nothing may propagate into C
                self._callback_exception = e
                return 1

        c_callback = _lib.METRICS_FN(on_step)
        try:
            self._run(_c.grlhf_trainer_train, 0 if steps is None else int(steps), c_callback, None)
        finally:
            if bar is not None:
                bar.close()
        if self._callback_exception is not None:
            e, self._callback_exception = self._callback_exception, None
            raise e
        if checkpoint_dir is not None and results and saved != self.progress[0]:
            self.save_checkpoint(checkpoint_dir)
        return results

    @property
    def progress(self) -> Tuple[int, int]:
        """``(steps taken, total steps of the run)``."""
        step, total = ctypes.c_int64(), ctypes.c_int64()
        _c.grlhf_trainer_progress(self.handle, ctypes.byref(step), ctypes.byref(total))
        return step.value, total.value

    @property
    def step_count(self) -> int:
        return self.progress[0]

    @property
    def total_steps(self) -> int:
        return self.progress[1]

    def _metrics_at(self, index: int) -> Metrics:
        count = ctypes.c_int64()
        _c.grlhf_trainer_metrics(self.handle, index, None, None, 0, ctypes.byref(count))
        n = count.value
        if n == 0:
            return {}
        names = (ctypes.c_char_p * n)()
        values = (ctypes.c_double * n)()
        _c.grlhf_trainer_metrics(self.handle, index, names, values, n, ctypes.byref(count))
        return {names[i].decode("utf-8"): values[i] for i in range(n)}

    @property
    def metrics(self) -> Metrics:
        """The last step's metrics ({} before the first step)."""
        return self._metrics_at(-1)

    @property
    def history(self) -> List[Metrics]:
        """Every step's metrics, resumed steps included."""
        return [self._metrics_at(i) for i in range(self.step_count)]

    @property
    def metrics_path(self) -> Optional[str]:
        return getattr(self, "_metrics_path", None)

    @metrics_path.setter
    def metrics_path(self, path: Optional[_PathLike]) -> None:
        """A JSON Lines file each step's metrics are appended to (None stops writing)."""
        _c.grlhf_trainer_set_metrics_path(self.handle, None if path is None else _path(path))
        self._metrics_path = None if path is None else os.fspath(path)

    def save_checkpoint(self, directory: _PathLike) -> str:
        """Writes ``directory/step-NNNNNN`` (weights, optimizer, data order, metrics) and
        ``directory/latest``; returns the checkpoint's path."""
        _c.grlhf_trainer_save_checkpoint(self.handle, _path(directory))
        return os.path.join(os.fspath(directory), f"step-{self.step_count:06d}")

    def resume(self, path: _PathLike) -> None:
        """Restores a checkpoint (a step directory, or a directory with ``latest``) into this
        trainer, made with the same model shape, data and settings."""
        _c.grlhf_trainer_resume(self.handle, _path(path))

    def __repr__(self) -> str:
        if self.closed:
            return f"grlhf.{type(self).__name__}(closed)"
        step, total = self.progress
        return f"grlhf.{type(self).__name__}(step={step}/{total})"


AnyReward = Union[RewardCallable, RewardModel, Reward, str]


class _RLTrainer(Trainer):
    """GRPO and PPO: a reward, and sampling settings."""

    _owns_reward = False

    def _take_reward(self, reward: AnyReward, tokenizer: Tokenizer) -> None:
        self._owns_reward = not isinstance(reward, Reward)
        if isinstance(reward, Reward):
            self._reward = reward
        elif isinstance(reward, RewardModel):
            self._reward = Reward.from_reward_model(reward, tokenizer)
        elif isinstance(reward, str):
            self._reward = Reward.rule(reward)
        elif callable(reward):
            self._reward = Reward(reward)
        else:
            raise TypeError(f"reward must be a callable, a RewardModel, a rule name or a Reward, got {type(reward).__name__}")

    @staticmethod
    def _stops(params: ctypes.Structure, stop_tokens: Iterable[int]) -> np.ndarray:
        stops = _ids_array(list(stop_tokens), "stop_tokens")
        if stops.size:
            params.stop_tokens = stops.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))
        params.n_stop_tokens = stops.size
        return stops  # keep alive until the constructor returns

    @property
    def reward(self) -> Reward:
        assert self._reward is not None
        return self._reward

    def close(self) -> None:
        """Frees the trainer, and the Reward it made from a callable, reward model or rule name."""
        super().close()
        if self._owns_reward and self._reward is not None:
            self._reward.close()


class SFTTrainer(Trainer):
    """Supervised fine-tuning of ``model`` on (question, image?, response) rows. Keyword
    arguments are grlhf_sft_params' fields, with the Swift API's defaults."""

    def __init__(self, model: Model, tokenizer: Tokenizer, data: Rows, *, steps: int = 100,
                 batch_size: int = 8, gradient_accumulation: int = 1, seed: int = 0,
                 learning_rate: float = 1e-4, weight_decay: float = 0.01, warmup_ratio: float = 0.03,
                 schedule: str = "cosine", max_grad_norm: float = 1.0, beta1: float = 0.9,
                 beta2: float = 0.999, metrics_path: Optional[_PathLike] = None) -> None:
        params = _params(_lib.SFTParams, _c.grlhf_sft_params_default, _keywords(locals(), SFTTrainer.__init__))
        self.model, self.tokenizer = model, tokenizer
        with _RowsFile(data) as path:
            self._start(_c.grlhf_sft_trainer_create, model.handle, tokenizer.handle, path, ctypes.byref(params),
                        metrics_path=metrics_path)


class RewardModelTrainer(Trainer):
    """Bradley-Terry training of ``reward_model`` on preference pairs. Keyword arguments are
    grlhf_rm_params' fields, with the Swift API's defaults."""

    def __init__(self, reward_model: RewardModel, tokenizer: Tokenizer, data: Rows, *, steps: int = 100,
                 batch_size: int = 8, seed: int = 0, regularization: float = 1e-3,
                 freeze_vision_tower: bool = True, learning_rate: float = 3e-5, weight_decay: float = 0.01,
                 warmup_ratio: float = 0.03, schedule: str = "constant", max_grad_norm: float = 1.0,
                 beta1: float = 0.9, beta2: float = 0.999, metrics_path: Optional[_PathLike] = None) -> None:
        params = _params(_lib.RMParams, _c.grlhf_rm_params_default, _keywords(locals(), RewardModelTrainer.__init__))
        self.reward_model, self.tokenizer = reward_model, tokenizer
        with _RowsFile(data) as path:
            self._start(_c.grlhf_rm_trainer_create, reward_model.handle, tokenizer.handle, path,
                        ctypes.byref(params), metrics_path=metrics_path)


class DPOTrainer(Trainer):
    """Direct preference optimization of ``policy`` on preference pairs, against ``reference``
    (default: a frozen copy of the policy as it is now). Keyword arguments are
    grlhf_dpo_params' fields, with the Swift API's defaults."""

    def __init__(self, policy: Model, tokenizer: Tokenizer, data: Rows, *, reference: Optional[Model] = None,
                 steps: int = 100, batch_size: int = 8, seed: int = 0, beta: float = 0.1,
                 learning_rate: float = 1e-6, weight_decay: float = 0.01, warmup_ratio: float = 0.03,
                 schedule: str = "cosine", max_grad_norm: float = 1.0, beta1: float = 0.9,
                 beta2: float = 0.999, metrics_path: Optional[_PathLike] = None) -> None:
        params = _params(_lib.DPOParams, _c.grlhf_dpo_params_default, _keywords(locals(), DPOTrainer.__init__))
        self.model, self.reference, self.tokenizer = policy, reference, tokenizer
        with _RowsFile(data) as path:
            self._start(_c.grlhf_dpo_trainer_create, policy.handle, None if reference is None else reference.handle,
                        tokenizer.handle, path, ctypes.byref(params), metrics_path=metrics_path)


class GRPOTrainer(_RLTrainer):
    """Group relative policy optimization of ``policy`` on prompts, rewarded by ``reward``: a
    Python callable ``f(prompt, completions) -> rewards``, a :class:`RewardModel` (scoring with
    ``tokenizer``), a rule's name or a :class:`Reward`. ``reference`` defaults to a frozen copy of the policy
    (none is kept when ``kl_coefficient`` is 0). Keyword arguments are grlhf_grpo_params'
    fields, with the Swift API's defaults; ``stop_tokens`` add to <|im_end|>."""

    def __init__(self, policy: Model, tokenizer: Tokenizer, prompts: Rows,
                 reward: AnyReward, *, reference: Optional[Model] = None,
                 steps: int = 100, prompts_per_step: int = 4, group_size: int = 8, epochs: int = 1,
                 mini_batches: int = 1, seed: int = 0, clip: float = 0.2, kl_coefficient: float = 0.02,
                 kl_estimator: str = "k3", mask_truncated: bool = False, temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0, max_new_tokens: int = 64,
                 stop_tokens: Iterable[int] = (), learning_rate: float = 1e-6, weight_decay: float = 0.01,
                 warmup_ratio: float = 0.03, schedule: str = "cosine", max_grad_norm: float = 1.0,
                 beta1: float = 0.9, beta2: float = 0.999, metrics_path: Optional[_PathLike] = None) -> None:
        values = _keywords(locals(), GRPOTrainer.__init__)
        stop_list = values.pop("stop_tokens")
        params = _params(_lib.GRPOParams, _c.grlhf_grpo_params_default, values)
        stops = self._stops(params, stop_list)
        self._take_reward(reward, tokenizer)
        self.model, self.reference, self.tokenizer = policy, reference, tokenizer
        with _RowsFile(prompts) as path:
            self._start(_c.grlhf_grpo_trainer_create, policy.handle, None if reference is None else reference.handle,
                        tokenizer.handle, path, self._reward.handle, ctypes.byref(params), metrics_path=metrics_path)


class PPOTrainer(_RLTrainer):
    """PPO of ``policy`` on prompts, scored by ``reward`` (as for :class:`GRPOTrainer`), with a
    ``critic`` (a :class:`RewardModel` whose head gives values; trained in place; default: a
    trainable copy of the policy with a new head) and ``reference`` (default: a frozen copy of the
    policy). Keyword arguments are grlhf_ppo_params' fields, with the Swift API's defaults
    (``lam`` is the field ``lambda``; ``critic_*`` set the critic's optimizer)."""

    def __init__(self, policy: Model, tokenizer: Tokenizer, prompts: Rows, reward: AnyReward, *,
                 reference: Optional[Model] = None, critic: Optional[RewardModel] = None,
                 steps: int = 100, prompts_per_step: int = 8, completions_per_prompt: int = 1, epochs: int = 1,
                 mini_batches: int = 1, seed: int = 0, clip: float = 0.2, value_clip: float = 5.0,
                 reward_clip: float = 50.0, kl_coefficient: float = 0.02, gamma: float = 1.0, lam: float = 0.95,
                 whiten_advantages: bool = False, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                 max_new_tokens: int = 64, stop_tokens: Iterable[int] = (), learning_rate: float = 1e-6,
                 weight_decay: float = 0.01, warmup_ratio: float = 0.03, schedule: str = "cosine",
                 max_grad_norm: float = 1.0, beta1: float = 0.9, beta2: float = 0.999,
                 critic_learning_rate: float = 5e-6, critic_weight_decay: float = 0.01,
                 critic_warmup_ratio: float = 0.0, critic_schedule: str = "constant",
                 critic_max_grad_norm: float = 1.0, critic_beta1: float = 0.9, critic_beta2: float = 0.999,
                 metrics_path: Optional[_PathLike] = None) -> None:
        values = _keywords(locals(), PPOTrainer.__init__)
        stop_list = values.pop("stop_tokens")
        params = _params(_lib.PPOParams, _c.grlhf_ppo_params_default, values)
        stops = self._stops(params, stop_list)
        self._take_reward(reward, tokenizer)
        self.model, self.reference, self.critic, self.tokenizer = policy, reference, critic, tokenizer
        with _RowsFile(prompts) as path:
            self._start(_c.grlhf_ppo_trainer_create, policy.handle, None if reference is None else reference.handle,
                        None if critic is None else critic.handle, tokenizer.handle, path, self._reward.handle,
                        ctypes.byref(params), metrics_path=metrics_path)
        del stops
