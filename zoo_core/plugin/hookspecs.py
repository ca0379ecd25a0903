"""The hooks a plugin may implement; each receives the registry (or CLI group) it fills."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from zoo_core.plugin.registry import Registry

PROJECT = "zoo"
#: zoo's own version (``zoo --version``, the metadata of saved weights).
VERSION = "0.1.0"
#: The contract in docs/plugin-hooks.md. Version 2 added trainers whose losses the loop optimizes
#: (``Trainer.loss``), manual trainers that step through ``Optimization``, and schedulers.
API_VERSION = 2
#: Versions a plugin may declare and still load. Version 1 (a ``step`` that stepped its optimizers
#: itself) is refused with the line that says how to port it.
SUPPORTED_API_VERSIONS = (2,)

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_models(registry: Registry) -> None:
    """Add models: ``registry.add(name, factory, dataset=..., optimizer=..., trainer=...)``."""


@hookspec
def register_datasets(registry: Registry) -> None:
    """Add datasets: a factory returning a ``Splits`` (train and evaluation data)."""


@hookspec
def register_optimizers(registry: Registry) -> None:
    """Add optimizers: a factory ``(params, lr, **defaults)`` returning a torch optimizer."""


@hookspec
def register_trainers(registry: Registry) -> None:
    """Add trainers: a factory returning a ``Trainer`` that owns one lesson's training step."""


@hookspec
def register_schedulers(registry: Registry) -> None:
    """Add learning-rate schedulers: a factory ``(optimizer, total_steps, **defaults)``."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands to the ``zoo`` command line (core commands cannot be replaced)."""
