"""A run's config (``RunConfig``): what ``config.json`` holds, read back checked; which entries its parts name.

A config read from a file (a run's ``config.json``, a weights file's metadata) is untrusted: every
field and every entry's settings are checked before use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from zoo_core.config import settings
from zoo_core.config.settings import Loop
from zoo_core.plugin.discovery import get_zoo
from zoo_core.plugin.errors import ZooError
from zoo_core.plugin.registry import Entry

SECTIONS = ("model", "dataset", "optimizer", "trainer", "scheduler")


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
    loop: Loop = attrs.field(factory=lambda: Loop(epochs=1))
    device: str = "auto"
    data_root: str | None = None
    #: model settings the user set (``--set``, a config file): what the data imply never replaces them
    given: list[str] = attrs.field(factory=list)
    #: model settings the dataset implied (``Splits.implies``), as applied to ``model_params``
    implied: dict[str, Any] = attrs.field(factory=dict)
    #: what checkpoints are written as (``--save-format``); the only setting a resume may change too
    save_format: str = attrs.field(default="safetensors", validator=lambda _, __, v: check_save_format(v))

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
        values["loop"] = Loop.from_mapping(loop, source)
        save_format = data.get("save_format", "safetensors")  # configs saved before it had none
        if save_format not in settings.SAVE_FORMATS:
            raise _bad(source, f"save_format {save_format!r} is not one of {settings.SAVE_FORMATS}")
        values["save_format"] = save_format
        for name in ("device", "data_root"):
            if (
                name in data
                and not isinstance(data[name], str)
                and not (name == "data_root" and data[name] is None)
            ):
                raise _bad(source, f"'{name}' must be a string, not {data[name]!r}")
            if name in data:
                values[name] = data[name]
        given = data.get("given", [])
        if not isinstance(given, list) or not all(isinstance(k, str) for k in given):
            raise _bad(source, "'given' must be a list of model setting names")
        implied = data.get("implied", {})
        if not isinstance(implied, Mapping) or not all(k in values["model_params"] for k in implied):
            raise _bad(source, "'implied' must be a mapping of the model's own settings")
        config = cls(**values, given=list(given), implied=dict(implied))
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
        """One section's settings by name: ``model``, ``dataset``, ... or ``loop``."""
        return self.loop.to_dict() if name == "loop" else getattr(self, f"{name}_params")


def check_save_format(value: Any) -> None:
    """``--save-format``: one of safetensors (the default), pickle (the tutorial's way) or both."""
    if value not in settings.SAVE_FORMATS:
        raise ZooError(f"--save-format {value!r}: choose one of {', '.join(settings.SAVE_FORMATS)}")


def _bad(source: str, what: str) -> ZooError:
    return ZooError(f"{source}: {what}; the file is damaged or was edited: restore it or train again")


def check_params(entry: Entry, params: Mapping[str, Any], source: str) -> None:
    """Settings read from a file: known to ``entry`` and typed like its defaults."""
    for key, value in params.items():
        if key not in entry.defaults:
            valid = ", ".join(sorted(entry.defaults)) or "none"
            raise _bad(source, f"{entry.kind} '{entry.name}' has no setting {key!r} (valid: {valid})")
        try:
            settings.typed(value, entry.defaults[key], f"{entry.kind} setting {key!r}")
        except ZooError as exc:
            raise _bad(source, str(exc)) from None


def part_entry(registry: Any, name: str, model: Entry) -> Entry:
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
    registry = get_zoo().schedulers
    if name == CONSTANT and name not in registry:
        return None
    return part_entry(registry, name, model) if model is not None else registry.get(name)


def make_scheduler(name: str, optimizer: Any, total_steps: int, **overrides: Any) -> Any:
    """A learning-rate scheduler for ``optimizer`` over ``total_steps`` (None for ``constant``)."""
    entry = scheduler_entry(name)
    return None if entry is None else entry.load()(optimizer, total_steps, **entry.params(overrides))
