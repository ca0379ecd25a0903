"""Resolve what a run will do: the model entry's recipe, a config file, then flags and ``--set KEY=VALUE``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from zoo_core.config import settings
from zoo_core.config.runconfig import CONSTANT, SECTIONS, RunConfig, part_entry, scheduler_entry
from zoo_core.config.settings import Loop, fits, kind_of, parse_value
from zoo_core.plugin.discovery import get_zoo
from zoo_core.plugin.errors import ZooError
from zoo_core.plugin.registry import Entry, suggest

if TYPE_CHECKING:
    from zoo_core.config.files import ConfigFile


def split_assignments(
    pairs: Iterable[str], flag: str = "--set", form: str = "KEY=VALUE, for example --set lr=0.1"
) -> list[tuple[str, str]]:
    """``["a=1", "b.c=2"]`` -> ``[("a", "1"), ("b.c", "2")]`` with a clear error on a bad pair."""
    out = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ZooError(f"{flag} {pair!r}: expected {form}")
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
    from zoo_core.plugin.data import Splits

    extra = context_for(entry.load(), seed=seed, data_root=data_root)
    result = entry.call(**entry.params(overrides), **extra)
    return result if isinstance(result, Splits) else Splits(train=result)


def apply_implied(config: RunConfig, entry: Entry, data: Any) -> None:
    """Set the model settings the data imply (``Splits.implies``) that the user did not set.

    Only settings the model has (in its entry's ``defaults``) are set; ``config.implied`` records
    them, so ``config.json`` and the weights' metadata rebuild the same model without the data.
    """
    implies = getattr(data, "implies", None) or {}
    if not isinstance(implies, Mapping):
        raise ZooError(f"dataset '{config.dataset}': Splits.implies must be a mapping of model settings")
    for key, value in implies.items():
        if key not in entry.defaults or key in config.given:
            continue
        if not fits(value, entry.defaults[key]):
            raise ZooError(
                f"dataset '{config.dataset}' implies {key}={value!r}, but model '{entry.name}' "
                f"takes {kind_of(entry.defaults[key])} there"
            )
        config.model_params[key] = value
        config.implied[key] = value


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
    save_format: str | None = None,
) -> RunConfig:
    """The full config: the entries' defaults, the recipe, a config ``file``, the flags, ``--set``.

    Each later source overrides the earlier ones; the loop's length is the one given last.
    """
    saved = file.values if file is not None else {}
    model_name = model_name or saved.get("model")
    if not model_name:
        raise ZooError("name a model to train (see 'zoo list models'), or give a config file that does")
    model = get_zoo().models.get(model_name)
    flags = {"dataset": dataset, "optimizer": optimizer, "trainer": trainer, "scheduler": scheduler}
    names = _part_names(model, {s: flags[s] or saved.get(s) for s in SECTIONS[1:]})
    entries = _entries(model, names)
    params = _recipe_params(model, names, entries)
    loop_values = _recipe_loop(model, entries, switched=optimizer is not None)
    if file is not None:
        file.apply(params, loop_values)
        device = device or saved.get("device")
        data_root = data_root or saved.get("data_root")
    explicit = {k: v for k, v in (loop or {}).items() if v is not None}
    loop_values.update(explicit)
    given = _given_model_settings(saved, sets)
    explicit.update(_apply_sets(sets, params, loop_values))
    _settle_length(loop_values, explicit)
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
        loop=Loop.from_mapping(loop_values),
        device=device or "auto",
        data_root=data_root,
        save_format=save_format or saved.get("save_format") or "safetensors",
        given=sorted(k for k in given if k in params["model"]),
    )


def _given_model_settings(saved: Mapping[str, Any], sets: Iterable[str]) -> set[str]:
    """The model settings a config file or ``--set`` gives: a file written by zoo (a run's
    ``config.json``, ``--print-config``) says which were given; in a hand-written one, all it sets."""
    given = set(saved["given"]) if "given" in saved else set(saved.get("model_params", {}))
    for key, _ in split_assignments(sets):
        section, _, bare = key.rpartition(".")
        if section in ("", "model"):
            given.add(bare)
    return given


def _part_names(model: Entry, chosen: Mapping[str, str | None]) -> dict[str, str]:
    """The run's parts by name: those chosen by flag or file, else the model's defaults."""
    names = {s: chosen[s] or getattr(model, s) for s in SECTIONS[1:]}
    names["scheduler"] = names["scheduler"] or CONSTANT
    for section, name in names.items():
        if not name:
            raise ZooError(f"model '{model.name}' names no default {section}; pass --{section} NAME")
    return names


def _entries(model: Entry, names: Mapping[str, str]) -> dict[str, Entry | None]:
    """The registry entries of the run's parts (None for the constant schedule)."""
    registries = get_zoo().registries
    return {
        "model": model,
        **{s: part_entry(registries[s], names[s], model) for s in ("dataset", "optimizer", "trainer")},
        "scheduler": scheduler_entry(names["scheduler"], model),
    }


def _recipe_params(
    model: Entry, names: Mapping[str, str], entries: Mapping[str, Entry | None]
) -> dict[str, dict[str, Any]]:
    """Each part's settings: its defaults, then the recipe's overrides for the part it was written for."""
    unknown = set(model.recipe) - set(settings.NAMES) - set(SECTIONS[1:])
    if unknown:
        raise ZooError(f"model '{model.name}' recipe has unknown keys {sorted(unknown)}")
    params = {s: dict(e.defaults) if e else {} for s, e in entries.items()}
    for section in SECTIONS[1:]:
        if section in model.recipe and names[section] == getattr(model, section):
            params[section] = entries[section].params(model.recipe[section])
    return params


def _recipe_loop(model: Entry, entries: Mapping[str, Entry | None], *, switched: bool) -> dict[str, Any]:
    """The loop's defaults and the recipe's values, with the optimizer's own lr where it applies.

    An optimizer's own lr counts for a switch to it (``--optimizer``), or when the recipe names no
    lr; ``--lr`` (applied later) beats both.
    """
    values = settings.defaults()
    values.update({k: v for k, v in model.recipe.items() if k in settings.NAMES})
    optimizer = entries["optimizer"]
    own_lr = optimizer.lr
    optimizers = get_zoo().optimizers
    recipes_own = not switched or (
        model.optimizer in optimizers and part_entry(optimizers, model.optimizer, model) is optimizer
    )
    if own_lr is not None and not (recipes_own and "lr" in model.recipe):
        values["lr"] = own_lr
    return values


def _apply_sets(
    sets: Iterable[str], params: dict[str, dict[str, Any]], loop: dict[str, Any]
) -> dict[str, Any]:
    """Apply ``--set [SECTION.]KEY=VALUE`` to the sections and the loop; return the lengths set."""
    lengths: dict[str, Any] = {}
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
            holders += ["loop"] if bare in settings.NAMES else []
        if len(holders) > 1:
            options = ", ".join(f"{h}.{bare}" for h in holders)
            raise ZooError(f"--set {key}: '{bare}' is a setting of several parts; write one of {options}")
        target = holders[0] if holders else ""
        if target == "loop" and bare in settings.NAMES:
            loop[bare] = settings.parse_loop_value(bare, text)
            if bare in ("epochs", "steps"):
                lengths[bare] = loop[bare]
        elif target in SECTIONS and bare in params[target]:
            params[target][bare] = parse_value(text, params[target][bare], key)
        else:
            valid = sorted({k for s in SECTIONS for k in params[s]} | set(settings.NAMES))
            hint = suggest(bare, valid)  # "; did you mean 'n_hidden'?" first: the list is long
            listed = f" (valid keys: {', '.join(valid)})" if hint else f"; valid keys: {', '.join(valid)}"
            raise ZooError(f"--set {key}: unknown setting{hint}{listed}")
    return lengths


def _settle_length(loop: dict[str, Any], explicit: Mapping[str, Any]) -> None:
    """One length: the one given by flag or ``--set`` replaces the recipe's other; else one epoch."""
    given = [k for k in ("epochs", "steps") if explicit.get(k) is not None]
    if len(given) > 1:
        raise ZooError("give either --epochs or --steps (or --set epochs=N, --set steps=N), not both")
    for key in given:
        loop["steps" if key == "epochs" else "epochs"] = None
    if loop.get("epochs") is None and loop.get("steps") is None:
        loop["epochs"] = 1
