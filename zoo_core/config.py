"""Resolve what a run will do: the model entry's recipe, then flags and ``--set KEY=VALUE``."""

from __future__ import annotations

import inspect
import json
import math
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
    "stop_on_nan": True,  # a NaN or infinite loss stops the run (False: a warning only)
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
    "stop_on_nan": bool,
}
_OPTIONAL = ("batch_size", "epochs", "steps", "grad_clip", "monitor")  # may be None
MODES = ("auto", "min", "max")


def _loop_like(key: str) -> Any:
    """A value of the loop setting's type, to check and parse others against."""
    return {int: 0, float: 0.0, bool: False, str: ""}[_LOOP_TYPES[key]]


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
    def from_dict(cls, data: Any, source: str = "the saved config") -> RunConfig:
        """A config read back from a file: untrusted, so every field is checked before use."""
        if not isinstance(data, Mapping):
            raise _bad(source, f"expected a mapping of settings, got {type(data).__name__}")
        values: dict[str, Any] = {}
        for name in ("model", "dataset", "optimizer", "trainer"):
            if not isinstance(data.get(name), str) or not data[name]:
                raise _bad(source, f"'{name}' must name a registry entry, not {data.get(name)!r}")
            values[name] = data[name]
        scheduler = data.get("scheduler", CONSTANT)  # configs saved before schedulers have none
        if not isinstance(scheduler, str) or not scheduler:
            raise _bad(source, f"'scheduler' must name a registry entry, not {scheduler!r}")
        values["scheduler"] = scheduler
        for name in SECTIONS:
            params = data.get(f"{name}_params", {})
            if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
                raise _bad(source, f"'{name}_params' must be a mapping of settings")
            values[f"{name}_params"] = dict(params)
        loop = data.get("loop", {})
        if not isinstance(loop, Mapping):
            raise _bad(source, "'loop' must be a mapping of settings")
        values["loop"] = {**LOOP_DEFAULTS, **loop}
        for name in ("device", "data_root"):
            if (
                name in data
                and not isinstance(data[name], str)
                and not (name == "data_root" and data[name] is None)
            ):
                raise _bad(source, f"'{name}' must be a string, not {data[name]!r}")
            if name in data:
                values[name] = data[name]
        config = cls(**values)
        check_loop(config.loop, source)
        registries = get_zoo().registries
        for name in SECTIONS:
            entry = (
                scheduler_entry(config.scheduler)
                if name == "scheduler"
                else registries[name].get(getattr(config, name))
            )
            if entry is not None:
                check_params(entry, config.section(name), source)
        return config

    def section(self, name: str) -> dict[str, Any]:
        return self.loop if name == "loop" else getattr(self, f"{name}_params")


def _bad(source: str, what: str) -> ZooError:
    return ZooError(f"{source}: {what}; the file is damaged or was edited: restore it or train again")


def _kind_of(like: Any) -> str:
    if isinstance(like, bool):
        return "true or false"
    return {int: "a whole number", float: "a finite number (at most 3.4e38)", str: "a string"}.get(
        type(like), type(like).__name__
    )


FLOAT_MAX = 3.4028234663852886e38  # float32's largest: beyond it torch cannot use the number


def finite(value: float) -> bool:
    """A float that torch can use: not NaN, not infinite, within float32's range."""
    return math.isfinite(value) and abs(value) <= FLOAT_MAX


def _fits(value: Any, like: Any) -> bool:
    """Whether ``value`` has the type of the setting's default ``like`` (a finite number for floats)."""
    if isinstance(value, float) and not finite(value):
        return False
    if like is None:
        return not isinstance(value, Mapping)
    if isinstance(like, bool):
        return isinstance(value, bool)
    if isinstance(like, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(like, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(like, (list, tuple)):
        return isinstance(value, (list, tuple)) and all(not like or _fits(v, like[0]) for v in value)
    return isinstance(value, type(like))


def check_params(entry: Entry, params: Mapping[str, Any], source: str) -> None:
    """Settings read from a file: known to ``entry`` and typed like its defaults."""
    for key, value in params.items():
        if key not in entry.defaults:
            valid = ", ".join(sorted(entry.defaults)) or "none"
            raise _bad(source, f"{entry.kind} '{entry.name}' has no setting {key!r} (valid: {valid})")
        if not _fits(value, entry.defaults[key]):
            raise _bad(
                source, f"{entry.kind} setting {key!r} must be {_kind_of(entry.defaults[key])}, not {value!r}"
            )


SEED_MAX = 2**32 - 1


def check_loop(loop: Mapping[str, Any], source: str = "") -> None:
    """The loop's settings, from flags, ``--set`` or a file: types and ranges, one message each."""
    where = f"{source}: " if source else ""
    for key, value in loop.items():
        if key not in LOOP_DEFAULTS:
            raise ZooError(f"{where}unknown loop setting {key!r}; valid: {', '.join(LOOP_DEFAULTS)}")
        like = _loop_like(key)
        if not (value is None and key in _OPTIONAL) and not _fits(value, like):
            raise ZooError(f"{where}{key} must be {_kind_of(like)}, got {value!r}")
    for key in ("epochs", "steps", "batch_size"):
        value = loop.get(key)
        if value is not None and value <= 0:
            raise ZooError(f"{where}{key} must be a positive whole number, got {value!r}")
    if loop.get("epochs") is None and loop.get("steps") is None:
        raise ZooError(f"{where}give the run a length: epochs or steps")
    for key in ("workers", "eval_every", "log_every", "checkpoint_every"):
        if loop[key] < 0:
            raise ZooError(f"{where}{key} must be 0 or more, got {loop[key]!r}")
    if not loop["lr"] > 0:
        raise ZooError(f"{where}lr must be a positive finite number, got {loop['lr']!r}")
    if not 0 <= loop["seed"] <= SEED_MAX:
        raise ZooError(f"{where}seed must be a whole number from 0 to {SEED_MAX}, got {loop['seed']!r}")
    if loop["accumulate"] <= 0:
        raise ZooError(f"{where}accumulate must be a positive whole number, got {loop['accumulate']!r}")
    if loop["grad_clip"] is not None and not loop["grad_clip"] > 0:
        raise ZooError(f"{where}grad_clip must be a positive number, got {loop['grad_clip']!r}")
    if loop["patience"] < 0:
        raise ZooError(f"{where}patience must be 0 or more, got {loop['patience']!r}")
    if (loop["patience"] or loop["monitor"]) and not loop["eval_every"]:
        flag = "--patience" if loop["patience"] else "--monitor"
        raise ZooError(f"{where}{flag} needs evaluations during the run: add --set eval_every=N (steps)")
    from zoo_core.optimization import PRECISIONS

    for key, allowed in (
        ("mode", MODES),
        ("logger", LOGGERS),
        ("compile_mode", COMPILE_MODES),
        ("precision", PRECISIONS),
    ):
        if loop[key] not in allowed:
            raise ZooError(f"{where}{key} {loop[key]!r}: choose one of {', '.join(allowed)}")


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
            value = float(text)
            if not finite(value):
                raise ValueError
            return value
        if isinstance(like, (list, tuple)):
            inner = like[0] if like else ""
            body = text.strip()
            if body[:1] + body[-1:] in ("[]", "()"):  # 0.9,0.99 or [0.9, 0.99] or (0.9, 0.99)
                body = body[1:-1]
            items = [parse_value(p.strip(), inner, what) for p in body.split(",") if p.strip()]
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
    kind = {bool: "true or false", int: "an integer", float: "a finite number (at most 3.4e38)"}.get(
        type(like), type(like).__name__
    )
    raise ZooError(f"--set {what}={text}: expected {kind}")


def _typed_loop_value(key: str, text: str) -> Any:
    like = _loop_like(key)
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


def context_for(fn: Callable[..., Any], **context: Any) -> dict[str, Any]:
    """The context keywords (seed, data_root) that ``fn`` accepts."""
    try:
        sig = inspect.signature(fn)
        takes_all = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        return {k: v for k, v in context.items() if takes_all or k in sig.parameters}
    except (TypeError, ValueError):
        return {}


def build_dataset(entry: Entry, overrides: Mapping[str, Any], *, seed: int, data_root: str | None) -> Any:
    """Build a dataset entry's ``Splits`` (a bare dataset is taken as the training split)."""
    from zoo_core.data import Splits

    extra = context_for(entry.load(), seed=seed, data_root=data_root)
    result = entry.call(**entry.params(overrides), **extra)
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
                loop[key] = self._typed(f"loop.{key}", value, _loop_like(key))
        if "epochs" in saved_loop and "steps" not in saved_loop:
            loop["steps"] = None  # the file's length replaces the recipe's
        if "steps" in saved_loop and "epochs" not in saved_loop:
            loop["epochs"] = None

    def _typed(self, where: str, value: Any, like: Any) -> Any:
        """``value`` when it has the type of the setting's default ``like`` (numbers as floats)."""
        if like is None and _is_none(value):
            return None
        if not _fits(value, like):
            raise ZooError(f"--config {self.path}: '{where}' must be {_kind_of(like)}, not {value!r}")
        if isinstance(like, float):
            return float(value)
        return type(like)(value) if isinstance(like, tuple) else value


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
    # An optimizer's own lr: for a switch to it, or when the recipe names none; --lr beats both.
    own_lr = entries["optimizer"].lr
    optimizers = zoo.registries["optimizer"]
    recipes_own = optimizer is None or (
        model.optimizer in optimizers
        and _part_entry(optimizers, model.optimizer, model) is entries["optimizer"]
    )
    if own_lr is not None and not (recipes_own and "lr" in recipe):
        loop_values["lr"] = own_lr
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
            if bare in ("epochs", "steps"):
                explicit[bare] = loop_values[bare]
        elif target in SECTIONS and bare in params[target]:
            params[target][bare] = parse_value(text, params[target][bare], key)
        else:
            valid = sorted({k for s in SECTIONS for k in params[s]} | set(LOOP_DEFAULTS))
            raise ZooError(f"--set {key}: unknown setting; valid keys: {', '.join(valid)}")

    if explicit.get("epochs") is not None and explicit.get("steps") is not None:
        raise ZooError("give either --epochs or --steps (or --set epochs=N, --set steps=N), not both")
    for key in ("epochs", "steps"):  # the length given last replaces the recipe's other one
        if explicit.get(key) is not None:
            loop_values["steps" if key == "epochs" else "epochs"] = None
    if loop_values.get("epochs") is None and loop_values.get("steps") is None:
        loop_values["epochs"] = 1
    if explicit.get("epochs") is not None and explicit.get("steps") is not None:
        raise ZooError("give either --epochs or --steps, not both")
    check_loop(loop_values)
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
