"""zoo: a plugin-based model zoo for PyTorch. This module is the public API for plugins and scripts.

Importing it is cheap (no torch): listing and looking up entries never import a plugin's heavy code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from zoo_core.plugin.data import Splits
from zoo_core.plugin.discovery import Zoo, get_zoo, set_zoo
from zoo_core.plugin.errors import Interrupted, PluginError, RunStopped, ZooError
from zoo_core.plugin.hookspecs import API_VERSION, VERSION, hookimpl
from zoo_core.plugin.predictor import Predictor
from zoo_core.plugin.registry import Entry, Registry
from zoo_core.plugin.trainer import Trainer
from zoo_core.training.optimization import Optimization

if TYPE_CHECKING:
    from pathlib import Path

__version__ = VERSION

#: What plugins use besides the registries, each imported when first asked for (none imports torch):
#: figures, layers and tables for lessons, the predictor's helpers, runs and their trained models.
_LAZY = {
    "Batches": "zoo_core.plugin.data",
    "batch_indices": "zoo_core.plugin.data",
    "activation": "zoo_core.plugin.layers",
    "pyplot": "zoo_core.plugin.figures",
    "save_figure": "zoo_core.plugin.figures",
    "table": "zoo_core.plugin.text",
    "atomic_path": "zoo_core.plugin.atomic",
    "write_json": "zoo_core.plugin.atomic",
    "write_text": "zoo_core.plugin.atomic",
    "first_line": "zoo_core.plugin.errors",
    "PredictOptions": "zoo_core.plugin.predictor",
    "Option": "zoo_core.plugin.predictor",
    "TENSOR_SUFFIXES": "zoo_core.plugin.predictor",
    "read_tensor": "zoo_core.plugin.predictor",
    "parse_numbers": "zoo_core.plugin.predictor",
    "to_json": "zoo_core.plugin.predictor",
    "first_linear": "zoo_core.plugin.predictor",
    "WEIGHTS": "zoo_core.store.checkpoint",
    "PICKLE": "zoo_core.store.checkpoint",
    "load_weights": "zoo_core.store.checkpoint",
    "load_pickle": "zoo_core.store.checkpoint",
    "pickle_globals": "zoo_core.store.checkpoint",
    "find_run": "zoo_core.store.runs",
    "read_json": "zoo_core.store.runs",
    "Trained": "zoo_core.serve.trained",
    "open_run": "zoo_core.serve.trained",
    "predict": "zoo_core.serve.predict",
    "compare_formats": "zoo_core.serve.formats",
    "formats_table": "zoo_core.serve.formats",
    "mode_of": "zoo_core.training.monitor",
    "train_options": "zoo_core.cli.train",
}


def __getattr__(name: str) -> Any:
    """The names of ``_LAZY``, imported on first use so that ``import zoo_core`` stays cheap."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'zoo_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    *_LAZY,
    "API_VERSION",
    "Entry",
    "Interrupted",
    "Optimization",
    "PluginError",
    "Predictor",
    "Registry",
    "RunStopped",
    "Splits",
    "Trainer",
    "Zoo",
    "ZooError",
    "__version__",
    "configure",
    "create_dataset",
    "create_model",
    "create_optimizer",
    "create_scheduler",
    "create_trainer",
    "get_dataset",
    "get_model",
    "get_optimizer",
    "get_scheduler",
    "get_trainer",
    "get_zoo",
    "hookimpl",
    "list_datasets",
    "list_models",
    "list_optimizers",
    "list_schedulers",
    "list_trainers",
    "load_model",
    "set_zoo",
    "train",
]


def list_models(*patterns: str, plugin: str | None = None) -> list[Entry]:
    """Models whose names match any of the glob ``patterns`` (all when none)."""
    return get_zoo().models.list(*patterns, plugin=plugin)


def list_datasets(*patterns: str, plugin: str | None = None) -> list[Entry]:
    """Datasets whose names match any of the glob ``patterns``."""
    return get_zoo().datasets.list(*patterns, plugin=plugin)


def list_optimizers(*patterns: str, plugin: str | None = None) -> list[Entry]:
    """Optimizers whose names match any of the glob ``patterns``."""
    return get_zoo().optimizers.list(*patterns, plugin=plugin)


def list_trainers(*patterns: str, plugin: str | None = None) -> list[Entry]:
    """Trainers whose names match any of the glob ``patterns``."""
    return get_zoo().trainers.list(*patterns, plugin=plugin)


def get_model(name: str) -> Entry:
    """The model entry called ``name`` or ``plugin:name``."""
    return get_zoo().models.get(name)


def get_dataset(name: str) -> Entry:
    """The dataset entry called ``name`` or ``plugin:name``."""
    return get_zoo().datasets.get(name)


def get_optimizer(name: str) -> Entry:
    """The optimizer entry called ``name`` or ``plugin:name``."""
    return get_zoo().optimizers.get(name)


def list_schedulers(*patterns: str, plugin: str | None = None) -> list[Entry]:
    """Learning-rate schedulers whose names match any of the glob ``patterns``."""
    return get_zoo().schedulers.list(*patterns, plugin=plugin)


def get_scheduler(name: str) -> Entry:
    """The scheduler entry called ``name`` or ``plugin:name``."""
    return get_zoo().schedulers.get(name)


def create_scheduler(name: str, optimizer: Any, total_steps: int, **overrides: Any) -> Any:
    """A learning-rate scheduler for ``optimizer`` over ``total_steps`` (None for ``constant``)."""
    from zoo_core.config.runconfig import make_scheduler

    return make_scheduler(name, optimizer, total_steps, **overrides)


def get_trainer(name: str) -> Entry:
    """The trainer entry called ``name`` or ``plugin:name``."""
    return get_zoo().trainers.get(name)


def create_model(name: str, **overrides: Any) -> Any:
    """Build a model (a ``torch.nn.Module``) with its default hyperparameters and ``overrides``."""
    return get_model(name).create(**overrides)


def create_dataset(name: str, *, seed: int = 0, data_root: str | None = None, **overrides: Any) -> Splits:
    """Build a dataset's ``Splits``; data drawn at random is drawn from ``seed``."""
    from zoo_core.config.resolver import build_dataset

    return build_dataset(get_dataset(name), overrides, seed=seed, data_root=data_root)


def create_optimizer(name: str, params: Any, lr: float, **overrides: Any) -> Any:
    """Build a torch optimizer over ``params`` from the optimizer registry."""
    entry = get_optimizer(name)
    return entry.call(params, lr=lr, **entry.params(overrides))


def create_trainer(name: str, **overrides: Any) -> Trainer:
    """Build a trainer entry's ``Trainer`` with its defaults and ``overrides``."""
    return get_trainer(name).create(**overrides)


def train(model: str | None = None, **settings: Any) -> Any:
    """Train ``model`` with the shared trainer, as ``zoo train`` does; returns the run's result.

    ``settings`` are ``zoo train``'s options by name (``steps=``, ``lr=``, ``device=``, ``out=``,
    ``optimizer=`` ...) and, like ``--set``, any setting of the model, dataset, optimizer, trainer
    or scheduler (``n_hidden=32``; a name several parts have is refused: use ``sets=["model.x=1"]``).
    """
    from zoo_core.training.loop import train_model

    if model is not None and not isinstance(model, str):
        raise ZooError(
            f"zoo_core.train takes a registered model's name (see zoo_core.list_models()), not a "
            f"{type(model).__module__}.{type(model).__qualname__}; register your module in a plugin "
            "to train it with zoo (zoo new-plugin NAME)"
        )
    return train_model(model, **_options(settings))


def configure(model: str | None = None, **settings: Any) -> Any:
    """The ``RunConfig`` that ``train`` would run with the same arguments, without training it."""
    from zoo_core.training.loop import configure as resolve

    callbacks = ("on_step", "on_evaluate", "quiet")
    options = {k: v for k, v in _options(settings).items() if k not in callbacks}
    return resolve(model, **options)[0]


def _options(settings: dict[str, Any]) -> dict[str, Any]:
    """``train``'s keywords as ``train_model`` takes them: other names become ``--set`` settings."""
    import inspect

    from zoo_core.config import settings as loop_settings
    from zoo_core.training.loop import configure, train_model

    named = {*inspect.signature(train_model).parameters, *inspect.signature(configure).parameters}
    named |= set(loop_settings.NAMES)
    parts = [f"{key}={_as_text(value)}" for key, value in settings.items() if key not in named]
    options = {key: value for key, value in settings.items() if key in named}
    if parts:
        options["sets"] = [*parts, *options.get("sets", ())]
    return options


def _as_text(value: Any) -> str:
    """A Python value as ``--set`` reads it (lists comma-separated, None as none)."""
    if isinstance(value, (list, tuple)):
        return ",".join(_as_text(v) for v in value)
    return "none" if value is None else str(value)


def load_model(path: str | Path, device: str = "cpu") -> Any:
    """Rebuild a trained model from its ``model.safetensors`` (run or hub folder, ``hf://org/name``): no pickle."""
    from zoo_core.serve.trained import open_run

    return open_run(path, device=device).model
