// The Python half of GRLHFPython, run inside the embedded interpreter as the module
// `_grlhf_rewards`. Kept as text here (not a resource file) so an installed `grlhf` binary
// carries it.
let pythonGlueSource = #"""
"""grlhf's side of Python reward functions, run inside the embedded interpreter: it loads the
user's module, calls the function in verl's or TRL's convention and checks what comes back.
Every entry point takes and returns JSON text; errors come back as {"error": text}."""
import importlib.util, inspect, json, math, numbers, os, re, sys, traceback

_modules = {}     # absolute path -> module (a file is imported once, however many functions it gives)
_functions = []   # id -> _Function
_KINDS = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_VERL = ("data_source", "solution_str", "ground_truth", "extra_info")
_ROW_KEYS = ("question", "image", "ground_truth", "system")


class _Fail(Exception):
    """A problem to report as it is (no grlhf traceback)."""


def _short(x, n=60):
    r = repr(x)
    return r if len(r) <= n else r[:n - 4] + "...'"


def _user_traceback(e):
    """The exception's traceback without grlhf's own frames."""
    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_globals.get("__name__") == __name__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(e), e, tb)).rstrip()


def setup(python):
    """Makes the packages of `python` (an executable, "" for none) importable when it is this
    interpreter's X.Y: its site directories go after the standard library and before the
    interpreter's own site directories. Returns what was done."""
    info = {"version": "%d.%d.%d" % sys.version_info[:3], "prefix": sys.prefix, "added": [], "note": None}
    if not python:
        return json.dumps(info)
    import subprocess
    code = ("import json, site, sys; u = site.getusersitepackages() if site.ENABLE_USER_SITE else None; "
            "print(json.dumps([list(sys.version_info[:2]), site.getsitepackages() + ([u] if u else []), sys.executable]))")
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
        version, dirs, executable = json.loads(out.stdout.strip().splitlines()[-1])
    except Exception as e:
        info["note"] = "could not ask %s for its site-packages (%s); only the embedded interpreter's own packages are importable" % (python, e)
        return json.dumps(info)
    info["python"] = executable
    if tuple(version) != tuple(sys.version_info[:2]):
        info["note"] = ("%s is Python %d.%d, the embedded interpreter %d.%d: its packages are not used "
                        "(set GRLHF_PYTHON to a python%d.%d whose packages you want)"
                        % (executable, version[0], version[1], sys.version_info[0], sys.version_info[1], *sys.version_info[:2]))
        return json.dumps(info)
    import site
    before = list(sys.path)
    for d in dirs:
        if os.path.isdir(d) and d not in before:
            site.addsitedir(d)
    added = [p for p in sys.path if p not in before]
    first_site = next((i for i, p in enumerate(before) if p.rstrip("/").endswith(("site-packages", "dist-packages"))), len(before))
    sys.path[:] = before[:first_site] + added + before[first_site:]
    info["added"] = added
    return json.dumps(info)


class _Function:
    def __init__(self, fn, label, convention, on_error):
        self.fn, self.label, self.convention, self.on_error = fn, label, convention, on_error
        sig = _signature(fn)
        params = list(sig.parameters.values()) if sig else []
        self.var_keyword = sig is None or any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params)
        self.names = [p.name for p in params if p.kind in _KINDS]
        positional = [p for p in params if p.kind in _POSITIONAL]
        var_positional = sig is None or any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in params)
        if convention == "verl":
            # verl calls by keyword; a function whose parameters have other names gets them by position.
            self.by_keyword = sig is not None and all(n in _VERL for n in self.names)
            self.positional = 4 if var_positional else min(4, len(positional))
        else:
            self.skip = set(p.name for p in positional[:2]) | {"prompts", "completions"}

    def verl(self, data_source, solution, ground_truth, extra_info):
        if self.by_keyword:
            kw = dict(data_source=data_source, solution_str=solution, ground_truth=ground_truth, extra_info=extra_info)
            return self.fn(**(kw if self.var_keyword else {k: v for k, v in kw.items() if k in self.names}))
        return self.fn(*(data_source, solution, ground_truth, extra_info)[:self.positional])

    def trl(self, prompts, completions, columns):
        kw = {k: v for k, v in columns.items() if k not in self.skip and (self.var_keyword or k in self.names)}
        return self.fn(prompts, completions, **kw)


def _signature(fn):
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _detect(fn, label):
    sig = _signature(fn)
    if sig is not None:
        params = list(sig.parameters.values())
        names = [p.name for p in params if p.kind in _KINDS]
        required = [p for p in params if p.kind in _POSITIONAL and p.default is p.empty]
        var_keyword = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params)
        if "solution_str" in names or "data_source" in names:
            return "verl"
        if "completions" in names:
            return "trl"
        if len(required) >= 3:
            return "verl"
        if len(required) == 2 and var_keyword:
            return "trl"
    raise _Fail("%s%s: cannot tell its calling convention. verl's is compute_score(data_source, solution_str, "
                "ground_truth, extra_info=None) -> float (or a dict with \"score\"), called per completion; TRL's is "
                "reward_func(prompts, completions, **kwargs) -> list[float], called per rollout batch. Name the "
                "parameters so, or give the convention (grlhf rl --reward-fn-convention verl|trl)."
                % (label, sig if sig is not None else "(...)"))


def load(request):
    """{"path", "name", "convention", "on_error"}: imports `path` (once) and registers its function
    `name`. Returns {"id", "convention"}."""
    r = json.loads(request)
    path, name, convention, on_error = r["path"], r["name"], r["convention"], r["on_error"]
    try:
        path = os.path.abspath(path)
        label = "%s:%s" % (os.path.basename(path), name)
        if not os.path.isfile(path):
            raise _Fail("%s: no such file" % path)
        module = _modules.get(path)
        if module is None:
            folder = os.path.dirname(path)
            if folder not in sys.path:
                sys.path.insert(0, folder)   # the module's neighbours import as when it runs as a script
            stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
            module_name = "grlhf_reward_%s_%d" % (stem, len(_modules))
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                raise _Fail("%s: not a Python module" % path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException as e:
                del sys.modules[module_name]
                raise _Fail("%s: importing it failed:\n%s" % (path, _user_traceback(e)))
            _modules[path] = module
        fn = getattr(module, name, None)
        if fn is None:
            mine = sorted(k for k, v in vars(module).items()
                          if callable(v) and not k.startswith("_") and getattr(v, "__module__", None) == module.__name__)
            raise _Fail("%s has no %r (its functions: %s)" % (path, name, ", ".join(mine) or "none"))
        if not callable(fn):
            raise _Fail("%s: %s is a %s, not a function" % (path, name, type(fn).__name__))
        if convention == "auto":
            convention = _detect(fn, label)
        _functions.append(_Function(fn, label, convention, on_error))
        return json.dumps({"id": len(_functions) - 1, "convention": convention})
    except _Fail as e:
        return json.dumps({"error": str(e)})


def _number(x):
    """x as a float when it is a real number (bool, int, float, numpy scalars, 0-d arrays), else None."""
    if isinstance(x, numbers.Real):
        return float(x)
    if getattr(x, "shape", None) == () and hasattr(x, "item"):
        return _number(x.item())
    return None


def _describe(x):
    return "None" if x is None else "%s %s" % (type(x).__name__, _short(x))


def _value(f, x, sample, extras):
    if isinstance(x, dict) and f.convention == "verl":   # verl: {"score": ..., other metrics}
        if "score" not in x:
            raise _Fail("%s returned a dict without \"score\" for %s (keys: %s)" % (f.label, sample, ", ".join(map(str, list(x)[:10]))))
        for k, v in x.items():
            v = _number(v) if k != "score" else None
            if v is not None and math.isfinite(v):
                extras.setdefault(str(k), []).append(v)
        x = x["score"]
    if x is None and f.convention == "trl":  # TRL's "does not apply"
        return None
    v = _number(x)
    if v is None:
        raise _Fail("%s returned %s for %s: a reward is a number%s"
                    % (f.label, _describe(x), sample, " (or a dict with a numeric \"score\")" if f.convention == "verl" else " (or None: does not apply)"))
    if not math.isfinite(v):
        raise _Fail("%s returned %s for %s: rewards must be finite" % (f.label, v, sample))
    return v


def _sample(index, g, c, row, completion):
    return "sample %d (prompt %d %s, completion %d %s)" % (index, g, _short(row["question"], 50), c, _short(completion, 50))


def _extra_info(row, truncated):
    """verl's extra_info: the row's own "extra_info" object, its other keys, and what grlhf knows."""
    extra = dict(row.get("extra") or {})
    info = dict(extra.pop("extra_info")) if isinstance(extra.get("extra_info"), dict) else {}
    extra.pop("data_source", None)
    for k, v in extra.items():
        info.setdefault(k, v)
    for k in _ROW_KEYS[:2] + _ROW_KEYS[3:]:
        info.setdefault(k, row.get(k))
    info.setdefault("truncated", truncated)
    return info


def call(fid, payload):
    """Rewards for a rollout batch: {"rewards": [one per completion, group after group], "errors": n,
    "metrics": {key: [sum, count]}} (verl's other numeric dict entries) or {"error": text}."""
    f = _functions[int(fid)]
    rows = json.loads(payload)
    try:
        return json.dumps(_verl(f, rows) if f.convention == "verl" else _trl(f, rows))
    except _Fail as e:
        return json.dumps({"error": str(e)})


def _verl(f, rows):
    rewards, errors, extras = [], 0, {}
    for g, row in enumerate(rows):
        data_source = (row.get("extra") or {}).get("data_source")
        for c, completion in enumerate(row["completions"]):
            sample = _sample(len(rewards), g, c, row, completion)
            try:
                out = f.verl(data_source, completion, row.get("ground_truth"), _extra_info(row, row["truncated"][c]))
            except Exception as e:
                if f.on_error == "skip":
                    rewards.append(0.0)
                    errors += 1
                    continue
                raise _Fail("%s raised an exception on %s:\n%s" % (f.label, sample, _user_traceback(e)))
            except BaseException as e:
                raise _Fail("%s raised %s on %s:\n%s" % (f.label, type(e).__name__, sample, _user_traceback(e)))
            rewards.append(_value(f, out, sample, extras))
    return {"rewards": rewards, "errors": errors, "metrics": {k: [sum(v), len(v)] for k, v in extras.items()}}


def _trl(f, rows):
    where, prompts, completions = [], [], []
    columns = {"completion_ids": [], "truncated": [], "question": []}
    for k in _ROW_KEYS[1:]:
        columns[k] = []
    extra_keys = sorted(set(k for row in rows for k in (row.get("extra") or {})) - set(columns) - {"prompts", "completions"})
    for k in extra_keys:
        columns[k] = []
    for g, row in enumerate(rows):
        extra = row.get("extra") or {}
        for c, completion in enumerate(row["completions"]):
            where.append((g, c))
            prompts.append(row["question"])
            completions.append(completion)
            columns["completion_ids"].append(row["completion_ids"][c])
            columns["truncated"].append(row["truncated"][c])
            columns["question"].append(row["question"])
            for k in _ROW_KEYS[1:]:
                columns[k].append(row.get(k))
            for k in extra_keys:
                columns[k].append(extra.get(k))
    n = len(completions)
    try:
        out = f.trl(prompts, completions, columns)
    except Exception as e:
        if f.on_error == "skip":
            return {"rewards": [0.0] * n, "errors": n, "metrics": {}}
        raise _Fail("%s raised an exception on a batch of %d completions (%d prompts):\n%s" % (f.label, n, len(rows), _user_traceback(e)))
    except BaseException as e:
        raise _Fail("%s raised %s on a batch of %d completions:\n%s" % (f.label, type(e).__name__, n, _user_traceback(e)))
    if isinstance(out, (str, bytes, dict)) or not hasattr(out, "__len__") or getattr(out, "shape", None) == ():
        raise _Fail("%s returned %s for a batch of %d completions: TRL's convention returns a list of %d numbers, one per completion"
                    % (f.label, _describe(out), n, n))
    out = list(out)
    if len(out) != n:
        raise _Fail("%s returned %d rewards for a batch of %d completions (%d prompts): one per completion, in order"
                    % (f.label, len(out), n, len(rows)))
    rewards = []
    for i, x in enumerate(out):
        g, c = where[i]
        rewards.append(_value(f, x, _sample(i, g, c, rows[g], completions[i]), {}))
    return {"rewards": rewards, "errors": 0, "metrics": {}}
"""#
