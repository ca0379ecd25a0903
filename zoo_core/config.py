"""Resolve what a run will do: the model entry's recipe, then flags and ``--set KEY=VALUE``."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable, Mapping
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
}
_OPTIONAL = ("batch_size", "epochs", "steps", "grad_clip")  # may be None
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
    device: str = "auto",
    data_root: str | None = None,
) -> RunConfig:
    """The full config for training ``model_name``: recipe, then explicit flags, then ``--set``."""
    zoo = get_zoo()
    model = zoo.registries["model"].get(model_name)
    recipe = dict(model.recipe)
    names = {
        "dataset": dataset or model.dataset,
        "optimizer": optimizer or model.optimizer,
        "trainer": trainer or model.trainer,
        "scheduler": scheduler or model.scheduler or "constant",
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
        device=device,
        data_root=data_root,
    )
