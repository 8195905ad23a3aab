"""The Generative RLHF-V pipeline over the C ABI (include/grlhf.h, section "The Generative RLHF-V
pipeline"): tokenizer, tiny multimodal base, Bradley-Terry RM, the untrained judge, GRM+SFT,
GRM+RL, policies by GRPO with each reward and DPO, and the scaling run, each evaluated on ID and
OOD sets; resumable stage by stage.

>>> import grlhf
>>> summary = grlhf.run_pipeline({"seed": 3}, preset="quick",
...                              data="runs/data/easy-vqa", output="runs/quick")  # doctest: +SKIP
>>> summary["rewardModels"]["GRM+RL"]["ood"]                                    # doctest: +SKIP
0.5

Config keys are those of the output's ``config.json`` (the Swift ``PipelineConfig``: ``sftSteps``,
``policyGroup``, ``scalingGroups``, ...); the library checks every value before anything runs.
"""

from __future__ import annotations

import ctypes
import json
import os
from typing import Any, Callable, Dict, Mapping, Optional, Union

from . import _lib
from ._handle import _Handle

__all__ = ["Pipeline", "run_pipeline", "PRESETS"]

_c = _lib.lib
_PathLike = Union[str, "os.PathLike[str]"]
LogCallable = Callable[[str], Any]

#: The presets a pipeline starts from: "tiny" (``make demo``, minutes), "quick" (seconds) and
#: "smol" (EfficientNet-Lite0 + SmolLM2-135M-Instruct with LoRA from ``make models``, hours).
PRESETS = ("tiny", "quick", "smol")


def _string(function: Callable[..., int], handle: Optional[int]) -> str:
    """A library string read with the two-call pattern."""
    length = ctypes.c_int64()
    function(handle, None, 0, ctypes.byref(length))
    buf = ctypes.create_string_buffer(length.value + 1)
    function(handle, buf, length.value + 1, ctypes.byref(length))
    return buf.raw[:length.value].decode("utf-8")


class Pipeline(_Handle):
    """A configured pipeline run: ``preset`` overridden by ``config`` and keyword overrides
    (keys of ``config.json``), with ``data`` (the folder of JSON Lines sets ``grlhf data
    easy-vqa`` writes) and ``output`` (where every stage writes; a rerun resumes) overriding the
    config's. Invalid values raise :class:`grlhf.Error` here, before anything runs.

    ``with`` blocks (or :meth:`close`) free the handle; the output directory stays.
    """

    _free = staticmethod(lambda h: _c.grlhf_pipeline_free(h))

    def __init__(self, config: Optional[Mapping[str, Any]] = None, *, preset: str = "tiny",
                 data: Optional[_PathLike] = None, output: Optional[_PathLike] = None, **overrides: Any) -> None:
        values: Dict[str, Any] = dict(config or {})
        values.update(overrides)
        params = _lib.PipelineParams()
        _c.grlhf_pipeline_params_default(ctypes.byref(params))
        # Kept alive until the create call has copied them.
        preset_bytes = str(preset).encode("utf-8")
        json_bytes = json.dumps(values, allow_nan=False, default=os.fspath).encode("utf-8") if values else None
        data_bytes = None if data is None else os.fspath(data).encode("utf-8")
        output_bytes = None if output is None else os.fspath(output).encode("utf-8")
        params.preset, params.config_json = preset_bytes, json_bytes
        params.data_dir, params.output_dir = data_bytes, output_bytes
        handle = ctypes.c_void_p()
        _c.grlhf_pipeline_create(ctypes.byref(params), ctypes.byref(handle))
        self._adopt(handle.value)

    @property
    def config(self) -> Dict[str, Any]:
        """The resolved configuration (what the run writes to ``output/config.json``)."""
        return json.loads(_string(_c.grlhf_pipeline_config_json, self.handle))

    @property
    def output(self) -> str:
        """The output directory."""
        return str(self.config["output"])

    def run(self, log: Optional[LogCallable] = print) -> Dict[str, Any]:
        """Runs every stage not finished in the output directory and returns the summary (also
        in ``output/summary.json``). ``log(line)`` receives each line the pipeline logs (a stage
        resumed, the result tables); ``None`` silences it. The engine draws each stage's progress
        bar on the process's stderr. The run cannot be stopped from ``log``: it is resumable
        instead. An exception raised by ``log`` stops further logging and is re-raised after
        the run."""
        failure: list = []

        def on_line(_user: Any, line: Optional[bytes]) -> None:
            if failure or log is None:
                return
            try:
                log((line or b"").decode("utf-8", "replace"))
            except BaseException as e:  # nothing may propagate into C
                failure.append(e)

        callback = _lib.LOG_FN(on_line)
        _c.grlhf_pipeline_run(self.handle, callback, None)
        if failure:
            raise failure[0]
        summary = self.summary
        assert summary is not None
        return summary

    @property
    def summary(self) -> Optional[Dict[str, Any]]:
        """The summary of the last successful :meth:`run` of this handle, or None before one."""
        try:
            return json.loads(_string(_c.grlhf_pipeline_summary_json, self.handle))
        except _lib.Error as e:
            if e.status == _lib.ERR_MISUSE and "not finished a run" in e.message:
                return None
            raise

    def __repr__(self) -> str:
        if self.closed:
            return "grlhf.Pipeline(closed)"
        c = self.config
        return f"grlhf.Pipeline(name={c['name']!r}, data={c['data']!r}, output={c['output']!r})"


def run_pipeline(config: Optional[Mapping[str, Any]] = None, *, preset: str = "tiny",
                 data: Optional[_PathLike] = None, output: Optional[_PathLike] = None,
                 log: Optional[LogCallable] = print, **overrides: Any) -> Dict[str, Any]:
    """Configures and runs a pipeline (see :class:`Pipeline`) and returns its summary: a dict
    with ``rewardModels`` (pairwise accuracy of each reward model on the ID and OOD pairs, and
    its parse-failure rate), ``policies`` (greedy answer accuracy of each policy), ``scaling``
    and the set sizes, as ``output/summary.json`` holds them."""
    with Pipeline(config, preset=preset, data=data, output=output, **overrides) as pipeline:
        return pipeline.run(log=log)
