"""The plugin contract: what every entry a plugin registers must do, checked by ``zoo check``.

The same checks run from the command line (``zoo check PLUGIN``) and from a plugin's own tests
(the ``zoo_check`` fixture of zoo's pytest plugin). Each model is checked for its metadata, that
it builds, takes a batch, survives a safetensors round trip, learns in a few CPU steps and
reloads for ``zoo eval`` (``models``, ``learning``); datasets, optimizers, trainers and
schedulers for their metadata and that they build (``parts``); every plugin for loading, its
commands' help, and listing its entries without importing torch in a fresh interpreter
(``plugin``, ``listing``). This module plans the checks of a ``zoo check`` and runs them into a
``Report`` (``report``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zoo_core.author.contract.learning import MIN_DROP, check_recipe
from zoo_core.author.contract.models import check_model
from zoo_core.author.contract.parts import (
    DESCENT_LR,
    DESCENT_STEPS,
    Bench,
    check_dataset,
    check_optimizer,
    check_scheduler,
    check_trainer,
    metadata_line,
    metadata_problems,
)
from zoo_core.author.contract.plugin import check_command, check_listing, check_loads
from zoo_core.author.contract.report import FAIL, PASS, SKIP, Emit, Outcome, Report, Trained, outcomes
from zoo_core.plugin.discovery import get_zoo
from zoo_core.plugin.errors import ZooError
from zoo_core.plugin.registry import KINDS, Entry

__all__ = [
    "DEFAULT_STEPS",
    "DESCENT_LR",
    "DESCENT_STEPS",
    "FAIL",
    "MIN_DROP",
    "PASS",
    "SKIP",
    "Checker",
    "Outcome",
    "Report",
    "Trained",
    "check_listing",
    "metadata_line",
    "metadata_problems",
    "plan",
    "run_checks",
    "subject_of",
]

DEFAULT_STEPS = 20

#: each kind's checks, as ``checks(bench, entry, emit)``
_CHECKS: dict[str, Callable[[Bench, Entry, Emit], None]] = {
    "model": check_model,
    "dataset": check_dataset,
    "optimizer": check_optimizer,
    "trainer": check_trainer,
    "scheduler": check_scheduler,
}


class Checker:
    """Runs the contract on the current zoo's entries; ``workdir`` receives the short runs."""

    def __init__(
        self,
        workdir: Path,
        *,
        steps: int = DEFAULT_STEPS,
        data_root: str | None = None,
        shown: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.bench = Bench(workdir, steps, data_root, shown)

    def entry(self, entry: Entry) -> list[Outcome]:
        """The outcomes of the checks of ``entry``'s kind, one line each."""
        return outcomes(
            f"{entry.kind} {entry.qualname}",
            lambda emit: _CHECKS[entry.kind](self.bench, entry, emit),
            self.bench.shown,
        )

    def stood_in(self, entry: Entry) -> list[Outcome]:
        """An entry whose ``checked_as`` names another of its plugin: its metadata, and a SKIP saying so."""

        def checks(emit: Emit) -> None:
            if not metadata_line(entry, emit):
                return
            zoo = get_zoo()
            if f"{entry.plugin}:{entry.checked_as}" not in zoo.registries[entry.kind]:
                emit(
                    FAIL,
                    "checked as",
                    f"checked_as={entry.checked_as!r}, but plugin '{entry.plugin}' registers no "
                    f"{entry.kind} of that name; name the {entry.kind} whose checks stand for this one",
                )
                return
            emit(
                SKIP,
                "checks",
                f"checked as {entry.plugin}:{entry.checked_as} (the same code, smaller); "
                f"'zoo check {entry.qualname}' checks this one itself",
            )

        return outcomes(f"{entry.kind} {entry.qualname}", checks, self.bench.shown)

    def train(self, entry: Entry) -> tuple[list[Outcome], Trained]:
        """``zoo check --train``: the model's full recipe against its declared ``expects``."""
        return check_recipe(self.bench, entry)


def plan(targets: tuple[str, ...] | list[str]) -> list[tuple[str, Any]]:
    """The subjects to check for ``targets`` (plugin names, ``plugin:name`` or entry names)."""
    zoo = get_zoo()
    todo: list[tuple[str, Any]] = []
    for target in targets:
        if ":" not in target and target in zoo.plugins:
            info = zoo.plugins[target]
            todo.append(("plugin", info))
            if info.status == "loaded":
                for kind in KINDS:  # an entry checked_as another is checked through that one
                    todo += [
                        ("stood-in" if e.checked_as else "entry", e)
                        for e in zoo.registries[kind].list(plugin=target)
                    ]
                todo += [("command", (info, name)) for name in info.commands]
                todo.append(("listing", info))
            continue
        found = zoo.entries_named(target)
        if not found:
            raise ZooError(f"no plugin or entry named '{target}' (see 'zoo plugins' and 'zoo list')")
        todo += [("entry", e) for e in found]
    return todo


def subject_of(kind: str, item: Any) -> str:
    """The subject a planned check reports under, so that the lines can be aligned in advance."""
    if kind in ("entry", "stood-in"):
        return f"{item.kind} {item.qualname}"
    if kind == "command":
        return f"command {item[1]}"
    return f"plugin {item.name}"


def run_checks(
    targets: tuple[str, ...] | list[str],
    *,
    steps: int = DEFAULT_STEPS,
    data_root: str | None = None,
    workdir: str | Path | None = None,
    listing: bool = True,
    train: bool = False,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> Report:
    """Check ``targets`` in the current zoo; ``on_outcome`` sees each line as it is decided.

    With ``train``, each model also trains its full recipe and meets its declared ``expects``.
    """
    if steps < 2:
        raise ZooError(f"--steps must be at least 2 to see the loss go down, got {steps}")
    todo = plan(targets)
    report = Report()

    def add(*added: Outcome, shown: bool = False) -> None:
        for outcome in added:
            report.outcomes.append(outcome)
            if on_outcome is not None and not shown:
                on_outcome(outcome)

    with tempfile.TemporaryDirectory(prefix="zoo-check-") as tmp:
        checker = Checker(Path(workdir or tmp), steps=steps, data_root=data_root, shown=on_outcome)
        for kind, item in todo:
            if kind == "plugin":
                add(check_loads(item))
            elif kind in ("entry", "stood-in"):  # an entry's lines were shown as they were decided
                add(*(checker.entry(item) if kind == "entry" else checker.stood_in(item)), shown=True)
                if train and item.kind == "model" and (kind == "entry" or item.expects):
                    done, row = checker.train(item)
                    add(*done, shown=True)
                    report.trained.append(row)
            elif kind == "command":
                add(check_command(*item))
            elif kind == "listing" and listing:
                add(check_listing(item))
    return report
