"""Resolve what a run will do: the model entry's recipe, then flags and ``--set KEY=VALUE``."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from zoo_core.errors import ZooError
from zoo_core.plugins import get_zoo
from zoo_core.registry import Entry

SECTIONS = ("model", "dataset", "optimizer", "trainer", "scheduler")

# The shared loop's own settings, with their types and defaults.
LOOP_DEFAULTS: dict[str, Any] = {
    "lr": 0.01,
    "epochs": None,
    "steps": None,
    "batch_size": None,  # None: the whole training set in one batch
    "shuffle": True,
    "drop_last": False,
    "workers": 0,
    "seed": 0,
    "eval_every": 0,  # steps between evaluations; 0: at the end only
    "log_every": 0,  # steps between metric rows; 0: about 200 rows per run
    "checkpoint_every": 0,  # steps between resumable checkpoints; 0: at the end (and on Ctrl-C)
    "cuda_graphs": True,  # on CUDA, capture a capturable trainer's step as a graph and replay it
    "precision": "32-true",  # or bf16-mixed, 16-mixed (CUDA): autocast, and a GradScaler for fp16
    "grad_clip": None,  # clip the gradients' total norm to this, per optimizer step
    "accumulate": 1,  # micro-batches of batch_size per optimizer step
    "compile": False,  # torch.compile the model (or the trainer's named modules)
    "compile_mode": "default",  # torch.compile's mode: default, reduce-overhead, max-autotune
    "monitor": None,  # the evaluation metric that picks best.safetensors (None: the trainer's)
    "mode": "auto",  # min or max for the monitored metric; auto: max for accuracies and scores
    "patience": 0,  # stop after this many evaluations without improvement; 0: never
    "logger": "csv",  # metrics.csv always; tensorboard adds event files
}
_LOOP_TYPES: dict[str, type] = {
    "lr": float,
    "epochs": int,
    "steps": int,
    "batch_size": int,
    "shuffle": bool,
    "drop_last": bool,
    "workers": int,
    "seed": int,
    "eval_every": int,
    "log_every": int,
    "checkpoint_every": int,
    "cuda_graphs": bool,
    "precision": str,
    "grad_clip": float,
    "accumulate": int,
    "compile": bool,
    "compile_mode": str,
    "monitor": str,
    "mode": str,
    "patience": int,
    "logger": str,
}
_OPTIONAL = ("batch_size", "epochs", "steps", "grad_clip", "monitor")  # may be None
MODES = ("auto", "min", "max")
LOGGERS = ("csv", "tensorboard")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


@attrs.define
class RunConfig:
    """Everything a run needs, resolved; saved as ``config.json`` so the run can be repeated."""

    model: str
    dataset: str
    optimizer: str
    trainer: str
    scheduler: str = "constant"
    model_params: dict[str, Any] = attrs.field(factory=dict)
    dataset_params: dict[str, Any] = attrs.field(factory=dict)
    optimizer_params: dict[str, Any] = attrs.field(factory=dict)
    trainer_params: dict[str, Any] = attrs.field(factory=dict)
    scheduler_params: dict[str, Any] = attrs.field(factory=dict)
    loop: dict[str, Any] = attrs.field(factory=lambda: dict(LOOP_DEFAULTS))
    device: str = "auto"
    data_root: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """A saved config; keys added to the loop since it was written take their defaults."""
        fields = {f.name for f in attrs.fields(cls)}
        config = cls(**{k: v for k, v in data.items() if k in fields})
        config.loop = {**LOOP_DEFAULTS, **config.loop}
        return config

    def section(self, name: str) -> dict[str, Any]:
        return self.loop if name == "loop" else getattr(self, f"{name}_params")


def parse_value(text: str, like: Any, what: str) -> Any:
    """Parse ``text`` to the type of ``like`` (the setting's default); errors name the setting."""
    try:
        if isinstance(like, bool):
            low = text.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(like, int):
            return int(text)
        if isinstance(like, float):
            return float(text)
        if isinstance(like, (list, tuple)):
            inner = like[0] if like else ""
            items = [parse_value(p.strip(), inner, what) for p in text.split(",") if p.strip()]
            return type(like)(items)
        if isinstance(like, str):
            return text
        if like is None:
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                return text
    except (ValueError, ZooError):
        pass
    kind = {bool: "true or false", int: "an integer", float: "a number"}.get(type(like), type(like).__name__)
    raise ZooError(f"--set {what}={text}: expected {kind}")


def _typed_loop_value(key: str, text: str) -> Any:
    like = {int: 0, float: 0.0, bool: False, str: ""}[_LOOP_TYPES[key]]
    if text.lower() in ("none", "null", "full", "off") and key in _OPTIONAL:
        return None
    return parse_value(text, like, key)


def split_assignments(pairs: Iterable[str]) -> list[tuple[str, str]]:
    """``["a=1", "b.c=2"]`` -> ``[("a", "1"), ("b.c", "2")]`` with a clear error on a bad pair."""
    out = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ZooError(f"--set {pair!r}: expected KEY=VALUE, for example --set lr=0.1")
        out.append((key.strip(), value.strip()))
    return out


def call_with_context(fn: Callable[..., Any], params: Mapping[str, Any], **context: Any) -> Any:
    """Call ``fn(**params)``, adding each context keyword (seed, data_root) that ``fn`` accepts."""
    try:
        sig = inspect.signature(fn)
        takes_all = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        extra = {k: v for k, v in context.items() if takes_all or k in sig.parameters}
    except (TypeError, ValueError):
        extra = {}
    return fn(**params, **extra)


def build_dataset(entry: Entry, overrides: Mapping[str, Any], *, seed: int, data_root: str | None) -> Any:
    """Build a dataset entry's ``Splits`` (a bare dataset is taken as the training split)."""
    from zoo_core.data import Splits

    result = call_with_context(entry.load(), entry.params(overrides), seed=seed, data_root=data_root)
    return result if isinstance(result, Splits) else Splits(train=result)


def _part_entry(registry: Any, name: str, model: Entry) -> Entry:
    """Look up ``name`` for ``model``: a bare name its own plugin registers means that entry.

    So two plugins may both register, say, a dataset ``points``: each one's models get their own.
    """
    if ":" not in name and model.plugin:
        own = f"{model.plugin}:{name}"
        if own in registry:
            return registry.get(own)
    return registry.get(name)


@attrs.define
class ConfigFile:
    """A config file (TOML or JSON, a run's ``config.json`` too): the resolved config's keys, any subset."""

    path: str
    values: dict[str, Any]

    @classmethod
    def read(cls, path: str | Path) -> ConfigFile:
        """Parse ``path`` and check its keys and their types; mistakes name the file and the key."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ZooError(f"--config {path}: cannot read it ({exc.strerror or exc})") from exc
        try:
            if path.suffix.lower() == ".toml":
                data: Any = _toml().loads(text)
            else:
                data = json.loads(text)
        except ValueError as exc:
            kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
            raise ZooError(f"--config {path}: not valid {kind} ({exc})") from exc
        if isinstance(data, dict) and isinstance(data.get("config"), dict):
            data = data["config"]  # a run folder's config.json: the config and what ran it
        if not isinstance(data, dict):
            raise ZooError(f"--config {path}: expected a table of settings at the top")
        fields = {f.name: f for f in attrs.fields(RunConfig)}
        for key, value in data.items():
            if key not in fields:
                raise ZooError(f"--config {path}: unknown key '{key}'; valid keys: {', '.join(fields)}")
            want = dict if key.endswith("_params") or key == "loop" else str
            if not (isinstance(value, want) or (key == "data_root" and value is None)):
                kind = "a table" if want is dict else "a string"
                raise ZooError(f"--config {path}: '{key}' must be {kind}, not {value!r}")
        return cls(str(path), data)

    def apply(self, params: dict[str, dict[str, Any]], loop: dict[str, Any]) -> None:
        """Set the file's section settings and loop values over the recipe's, checking each one."""
        for section in SECTIONS:
            for key, value in self.values.get(f"{section}_params", {}).items():
                if key not in params[section]:
                    valid = ", ".join(sorted(params[section])) or "none"
                    raise ZooError(
                        f"--config {self.path}: unknown setting '{section}_params.{key}'; valid: {valid}"
                    )
                params[section][key] = self._typed(f"{section}_params.{key}", value, params[section][key])
        saved_loop = self.values.get("loop", {})
        for key, value in saved_loop.items():
            if key not in LOOP_DEFAULTS:
                raise ZooError(
                    f"--config {self.path}: unknown key 'loop.{key}'; valid: {', '.join(LOOP_DEFAULTS)}"
                )
            if _is_none(value) and key in _OPTIONAL:
                loop[key] = None
            else:
                loop[key] = self._typed(
                    f"loop.{key}", value, {int: 0, float: 0.0, bool: False, str: ""}[_LOOP_TYPES[key]]
                )
        if "epochs" in saved_loop and "steps" not in saved_loop:
            loop["steps"] = None  # the file's length replaces the recipe's
        if "steps" in saved_loop and "epochs" not in saved_loop:
            loop["epochs"] = None

    def _typed(self, where: str, value: Any, like: Any) -> Any:
        """``value`` when it has the type of ``like`` (a number for a float; a list for a tuple)."""
        if like is None:
            return None if _is_none(value) else value
        ok = {
            bool: lambda v: isinstance(v, bool),
            int: lambda v: isinstance(v, int) and not isinstance(v, bool),
            float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            str: lambda v: isinstance(v, str),
        }
        for kind, check in ok.items():
            if isinstance(like, kind) and not (kind is int and isinstance(like, bool)):
                if check(value):
                    return float(value) if kind is float else value
                break
        else:
            if isinstance(like, (list, tuple)) and isinstance(value, (list, tuple)):
                return type(like)(value)
        expected = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}
        word = next((w for k, w in expected.items() if type(like) is k), type(like).__name__)
        raise ZooError(f"--config {self.path}: '{where}' must be {word}, not {value!r}")


def _is_none(value: Any) -> bool:
    """None in a file: JSON's null, or the string "none" (TOML has no null)."""
    return value is None or (isinstance(value, str) and value.strip().lower() == "none")


def _toml() -> Any:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    return tomllib


def to_toml(config: RunConfig) -> str:
    """The resolved config as TOML, a template for ``--config`` (None is written as "none")."""
    import tomli_w

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return "none" if value is None else value

    data = {k: plain(v) for k, v in config.to_dict().items() if v is not None}
    return tomli_w.dumps(data)


CONSTANT = "constant"  # the learning rate as the optimizer has it: no scheduler at all


def scheduler_entry(name: str, model: Entry | None = None) -> Entry | None:
    """The scheduler entry called ``name``; None for ``constant`` when no plugin registers it."""
    registry = get_zoo().registries["scheduler"]
    if name == CONSTANT and name not in registry:
        return None
    return _part_entry(registry, name, model) if model is not None else registry.get(name)


def resolve(
    model_name: str,
    *,
    dataset: str | None = None,
    optimizer: str | None = None,
    trainer: str | None = None,
    scheduler: str | None = None,
    loop: Mapping[str, Any] | None = None,
    sets: Iterable[str] = (),
    device: str | None = "auto",
    data_root: str | None = None,
    file: ConfigFile | None = None,
) -> RunConfig:
    """The full config: the entries' defaults, the recipe, a config ``file``, the flags, ``--set``."""
    zoo = get_zoo()
    saved = file.values if file is not None else {}
    model_name = model_name or saved.get("model")
    if not model_name:
        raise ZooError("name a model to train (see 'zoo list models'), or give a config file that does")
    model = zoo.registries["model"].get(model_name)
    recipe = dict(model.recipe)
    names = {
        "dataset": dataset or saved.get("dataset") or model.dataset,
        "optimizer": optimizer or saved.get("optimizer") or model.optimizer,
        "trainer": trainer or saved.get("trainer") or model.trainer,
        "scheduler": scheduler or saved.get("scheduler") or model.scheduler or "constant",
    }
    for section, name in names.items():
        if not name:
            raise ZooError(f"model '{model.name}' names no default {section}; pass --{section} NAME")
    entries = {
        "model": model,
        **{s: _part_entry(zoo.registries[s], names[s], model) for s in SECTIONS[1:-1]},
        "scheduler": scheduler_entry(names["scheduler"], model),
    }
    params = {s: dict(entries[s].defaults) if entries[s] else {} for s in SECTIONS}
    for section in SECTIONS[1:]:
        # A recipe's section overrides apply only to the default entry it was written for.
        if section in recipe and (names[section] == getattr(model, section)):
            params[section] = entries[section].params(recipe[section])
    loop_values = dict(LOOP_DEFAULTS)
    unknown = set(recipe) - set(LOOP_DEFAULTS) - set(SECTIONS[1:])
    if unknown:
        raise ZooError(f"model '{model.name}' recipe has unknown keys {sorted(unknown)}")
    loop_values.update({k: v for k, v in recipe.items() if k in LOOP_DEFAULTS})
    if file is not None:
        file.apply(params, loop_values)
        device = device or saved.get("device")
        data_root = data_root or saved.get("data_root")
    explicit = {k: v for k, v in (loop or {}).items() if v is not None}
    if "epochs" in explicit:
        loop_values["steps"] = None
    if "steps" in explicit:
        loop_values["epochs"] = None
    loop_values.update(explicit)

    for key, text in split_assignments(sets):
        section, dot, bare = key.rpartition(".")
        if dot and section not in SECTIONS + ("loop",):
            raise ZooError(
                f"--set {key}: unknown section '{section}'; use one of {', '.join(SECTIONS)}, loop"
            )
        if dot:
            holders = [section]
        else:
            holders = [s for s in SECTIONS if bare in params[s]]
            holders += ["loop"] if bare in LOOP_DEFAULTS else []
        if len(holders) > 1:
            options = ", ".join(f"{h}.{bare}" for h in holders)
            raise ZooError(f"--set {key}: '{bare}' is a setting of several parts; write one of {options}")
        target = holders[0] if holders else ""
        if target == "loop" and bare in LOOP_DEFAULTS:
            loop_values[bare] = _typed_loop_value(bare, text)
        elif target in SECTIONS and bare in params[target]:
            params[target][bare] = parse_value(text, params[target][bare], key)
        else:
            valid = sorted({k for s in SECTIONS for k in params[s]} | set(LOOP_DEFAULTS))
            raise ZooError(f"--set {key}: unknown setting; valid keys: {', '.join(valid)}")

    if loop_values.get("epochs") is None and loop_values.get("steps") is None:
        loop_values["epochs"] = 1
    if explicit.get("epochs") is not None and explicit.get("steps") is not None:
        raise ZooError("give either --epochs or --steps, not both")
    for key in ("epochs", "steps", "batch_size", "accumulate"):
        value = loop_values.get(key)
        if value is not None and (not isinstance(value, int) or value <= 0):
            raise ZooError(f"{key} must be a positive whole number, got {value!r}")
    clip = loop_values["grad_clip"]
    if clip is not None and not (isinstance(clip, (int, float)) and 0 < clip < float("inf")):
        raise ZooError(f"grad_clip must be a positive number, got {clip!r}")
    if loop_values["patience"] < 0:
        raise ZooError(f"patience must be 0 or more, got {loop_values['patience']!r}")
    if (loop_values["patience"] or loop_values["monitor"]) and not loop_values["eval_every"]:
        flag = "--patience" if loop_values["patience"] else "--monitor"
        raise ZooError(f"{flag} needs evaluations during the run: add --set eval_every=N (steps)")
    for key, allowed in (("mode", MODES), ("logger", LOGGERS)):
        if loop_values[key] not in allowed:
            raise ZooError(f"{key} {loop_values[key]!r}: choose one of {', '.join(allowed)}")
    if loop_values["compile_mode"] not in COMPILE_MODES:
        raise ZooError(
            f"compile_mode {loop_values['compile_mode']!r}: choose one of {', '.join(COMPILE_MODES)}"
        )
    from zoo_core.optimization import PRECISIONS

    if loop_values["precision"] not in PRECISIONS:
        raise ZooError(f"precision {loop_values['precision']!r}: choose one of {', '.join(PRECISIONS)}")
    for key in ("workers", "eval_every", "log_every", "checkpoint_every"):
        if loop_values[key] < 0:
            raise ZooError(f"{key} must be 0 or more, got {loop_values[key]!r}")
    if loop_values["lr"] <= 0:
        raise ZooError(f"lr must be positive, got {loop_values['lr']!r}")
    return RunConfig(
        model=model.qualname,
        dataset=entries["dataset"].qualname,
        optimizer=entries["optimizer"].qualname,
        trainer=entries["trainer"].qualname,
        scheduler=entries["scheduler"].qualname if entries["scheduler"] else CONSTANT,
        model_params=params["model"],
        dataset_params=params["dataset"],
        optimizer_params=params["optimizer"],
        trainer_params=params["trainer"],
        scheduler_params=params["scheduler"],
        loop=loop_values,
        device=device or "auto",
        data_root=data_root,
    )
