"""The checks of what a model is trained with: datasets, optimizers, trainers and schedulers.

Every entry's metadata is checked here too, and ``Bench`` builds each dataset once for the
checks of a run (a model's checks build its default dataset through it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from zoo_core.author.contract.report import FAIL, PASS, SKIP, Emit, Outcome, Stop, error_text, stage
from zoo_core.plugin.errors import ZooError
from zoo_core.plugin.registry import Entry


@attrs.define
class ModelCase:
    """One model under check and what its checks hand on: config, built model, data, trainer, batch."""

    entry: Entry
    config: Any
    data_entry: Entry
    model: Any = None
    data: Any = None
    trainer: Any = None
    batch: Any = None

    @property
    def inputs(self) -> Any:
        """The batch's inputs: its first element, or the batch when it is not a tuple or list."""
        return self.batch[0] if isinstance(self.batch, (tuple, list)) else self.batch


#: an optimizer's descent check: steps on a linear regression, at this lr (or its own, if smaller)
DESCENT_STEPS, DESCENT_LR = 10, 0.01


def _json_problem(what: str, value: Any) -> str | None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return f"{what} are not JSON-serialisable ({exc})"
    return None


def metadata_problems(entry: Entry) -> list[str]:
    """What an entry's metadata lacks: summary, lesson or tags, JSON-serialisable settings."""
    problems = []
    if not entry.summary.strip():
        problems.append("no summary")
    if not entry.lesson.strip() and not entry.tags:
        problems.append("neither a lesson nor tags")
    for what, value in (("defaults", entry.defaults), ("recipe settings", entry.recipe)):
        problem = _json_problem(what, value)
        if problem:
            problems.append(problem)
    if entry.kind == "model":
        problems += [
            f"names no default {part}"
            for part in ("dataset", "optimizer", "trainer")
            if not getattr(entry, part)
        ]
    return problems


def metadata_line(entry: Entry, emit: Emit) -> bool:
    """The metadata line of a part; ``False`` when it fails and nothing else is checked."""
    problems = metadata_problems(entry)
    if problems:
        emit(FAIL, "metadata", "; ".join(problems))
        return False
    emit(PASS, "metadata", f"summary, {'lesson' if entry.lesson else 'tags'}, JSON defaults")
    return True


def needs_files(entry: Entry) -> bool:
    """Whether a dataset reads files (it takes ``data_root`` or has a ``download`` setting)."""
    import inspect

    if "download" in entry.defaults:
        return True
    try:
        return "data_root" in inspect.signature(entry.load()).parameters
    except (TypeError, ValueError, ZooError):
        return False


def offline(entry: Entry) -> dict[str, Any]:
    """Overrides that keep a dataset from downloading during checks."""
    return {"download": False} if "download" in entry.defaults else {}


def article(noun: str) -> str:
    """``a Trainer``, ``an ELBOTrainer``, ``an SGD``: the article as the name is spoken."""
    acronym = noun[:2].isupper()
    vowel = noun[:1] in ("AEFHILMNORSX" if acronym else "AEIOaeio")
    return f"{'an' if vowel else 'a'} {noun}"


@attrs.define
class Bench:
    """Where a run of checks works: its folder for short runs, its steps, data, built datasets."""

    workdir: Path = attrs.field(converter=Path)
    steps: int
    data_root: str | None = None
    #: sees each outcome as it is decided (``zoo check`` prints it)
    shown: Callable[[Outcome], None] | None = None
    _datasets: dict[str, Any] = attrs.field(factory=dict, init=False)

    def dataset(self, emit: Emit, entry: Entry, params: dict[str, Any], check: str) -> Any:
        """The dataset, built once; missing files are a SKIP of ``check`` that stops the subject."""
        from zoo_core.config.resolver import build_dataset

        key = f"{entry.qualname} {json.dumps(params, sort_keys=True, default=str)}"
        if key not in self._datasets:
            try:
                self._datasets[key] = build_dataset(entry, params, seed=0, data_root=self.data_root)
            except ZooError as exc:
                if not needs_files(entry):
                    raise
                emit(
                    SKIP,
                    check,
                    f"dataset '{entry.name}' needs files that are missing here; pass --data-root DIR "
                    f"to check it ({error_text(exc)})",
                )
                raise Stop from exc
        data = self._datasets[key]
        if len(data.train) == 0:
            raise ZooError(f"dataset '{entry.name}' has no training samples")
        return data

    def path(self, entry: Entry, what: str) -> Path:
        """Where the checks of ``entry`` write ``what`` (a run folder, a file) in the work folder."""
        return self.workdir / f"{entry.qualname.replace(':', '__').replace('/', '_')}-{what}"


def check_dataset(bench: Bench, entry: Entry, emit: Emit) -> None:
    """It builds with its defaults, offline, and has training samples: what every model's run needs."""
    if not metadata_line(entry, emit):
        return
    with stage(emit, "builds"):
        data = bench.dataset(emit, entry, offline(entry), "builds")
    n_eval = "no" if data.eval is None else f"{len(data.eval):,}"
    emit(PASS, "builds", f"with its defaults: {len(data.train):,} training samples, {n_eval} held out")


def check_optimizer(bench: Bench, entry: Entry, emit: Emit) -> None:
    """It builds over a Linear layer, and descends on a linear regression (a convex problem)."""
    import torch

    if not metadata_line(entry, emit):
        return
    # a convex problem: linear regression from zero weights, noise-free
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=gen)
    y = x @ torch.randn(4, 1, generator=gen) + 0.5
    layer = torch.nn.Linear(4, 1)
    torch.nn.init.zeros_(layer.weight), torch.nn.init.zeros_(layer.bias)
    lr = min(DESCENT_LR, entry.lr or DESCENT_LR)
    with stage(emit, "builds"):
        opt = entry.load()(layer.parameters(), lr=lr, **entry.params())
    if not isinstance(opt, torch.optim.Optimizer):
        emit(FAIL, "builds", f"the factory returned {type(opt).__name__}, not a torch.optim.Optimizer")
        return
    emit(PASS, "builds", f"{article(type(opt).__name__)} over a Linear layer")
    with stage(emit, "descends"):
        _descends(emit, layer, opt, x, y, lr)


def _descends(emit: Emit, layer: Any, opt: Any, x: Any, y: Any, lr: float) -> None:
    """A few steps move the weights and lower the loss: an update that climbs the gradient fails."""
    import torch

    losses = []
    for _ in range(DESCENT_STEPS + 1):
        loss = torch.nn.functional.mse_loss(layer(x), y)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    if not (layer.weight.detach().ne(0).any() or layer.bias.detach().ne(0).any()):
        emit(FAIL, "descends", f"{DESCENT_STEPS} steps at lr={lr:g} left the weights unchanged")
        return
    first, last = losses[0], losses[-1]
    if not last < first:
        emit(
            FAIL,
            "descends",
            f"{DESCENT_STEPS} steps at lr={lr:g} on a linear regression (a convex problem) "
            f"raise its loss {first:.4g} -> {last:.4g}: the update climbs the gradient; "
            "an optimizer's step subtracts lr times its update from each weight",
        )
        return
    emit(
        PASS,
        "descends",
        f"{DESCENT_STEPS} steps at lr={lr:g} lower a linear regression's loss {first:.4g} -> {last:.4g}",
    )


def check_trainer(bench: Bench, entry: Entry, emit: Emit) -> None:
    """Its factory makes a ``zoo_core.Trainer``, which the shared loop drives."""
    from zoo_core.plugin.trainer import Trainer

    if not metadata_line(entry, emit):
        return
    with stage(emit, "builds"):
        made = entry.create()
    if not isinstance(made, Trainer):
        emit(FAIL, "builds", f"the factory returned {type(made).__name__}, not a zoo_core.Trainer")
        return
    emit(PASS, "builds", f"with its defaults ({article(type(made).__name__)})")


#: the short runs of the model checks hold the recipe's learning rate: a schedule (a warm-up of
#: 100 steps) is made for the full recipe, which ``--train`` runs; schedulers are checked apart
SHORT_RUN_SCHEDULER = "constant"
SCHEDULE_STEPS = 1000  # a run long enough for any default warm-up (a longer one is refused)


def check_scheduler(bench: Bench, entry: Entry, emit: Emit) -> None:
    """Its factory takes an optimizer and a step count and makes a torch LRScheduler, or ``None``."""
    import torch

    if not metadata_line(entry, emit):
        return
    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
    with stage(emit, "builds"):
        made = entry.load()(opt, SCHEDULE_STEPS, **entry.params())
    if made is not None and not isinstance(made, torch.optim.lr_scheduler.LRScheduler):
        emit(FAIL, "builds", f"the factory returned {type(made).__name__}, not a torch LRScheduler (or None)")
        return
    shown = "no schedule (None)" if made is None else article(type(made).__name__)
    emit(PASS, "builds", f"over an SGD optimizer for {SCHEDULE_STEPS} steps: {shown}")
