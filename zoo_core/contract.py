"""The plugin contract: what every entry a plugin registers must do, checked by ``zoo check``.

The same checks run from the command line (``zoo check PLUGIN``) and from a plugin's own tests
(the ``zoo_check`` fixture of zoo's pytest plugin). For each model:

- metadata: a summary, a lesson or tags, JSON-serialisable defaults and recipe, and a default
  dataset, optimizer and trainer that resolve;
- builds: the model builds with its defaults (a ``torch.nn.Module``);
- batch: a batch of its default dataset goes through one training step, giving finite losses;
- round trip: saving to safetensors and loading back gives identical weights and outputs;
- trains: a few steps on the CPU with the shared trainer lower the loss;
- reloads: ``zoo eval`` rebuilds the run from its ``model.safetensors`` and evaluates it.

Datasets, optimizers and trainers are checked for their metadata and that they build; every
plugin is checked for listing its entries without importing torch (in a fresh interpreter).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs

from zoo_core.errors import ZooError, switch
from zoo_core.plugins import PluginInfo, get_zoo, installed
from zoo_core.registry import COMPARISONS, KINDS, Entry, expectation

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
DEFAULT_STEPS = 20
#: an optimizer's descent check: steps on a linear regression, at this lr (or its own, if smaller)
DESCENT_STEPS, DESCENT_LR = 10, 0.01
#: the least relative drop of the loss on a fixed batch that counts as learning, not noise
MIN_DROP = 0.01


@attrs.define
class Outcome:
    """One line of a report: a check on one subject (``model plugin:name`` or ``plugin name``)."""

    status: str
    subject: str
    check: str
    detail: str = ""

    def line(self, width: int = 0) -> str:
        return f"{self.status}  {self.subject.ljust(width)}  {self.check}: {self.detail}".rstrip()


@attrs.define
class Trained:
    """One row of ``zoo check --train``: a model's full recipe against its declared ``expects``."""

    status: str
    model: str
    expected: str
    measured: str = ""
    seconds: float | None = None

    def row(self) -> list[str]:
        took = "-" if self.seconds is None else f"{self.seconds:.1f}s"
        return [self.model, self.expected, self.measured or "-", took, self.status]


@attrs.define
class Report:
    """Every outcome of a ``zoo check`` run; ``ok`` when nothing failed."""

    outcomes: list[Outcome] = attrs.field(factory=list)
    trained: list[Trained] = attrs.field(factory=list)  # with --train: one row per model

    @property
    def ok(self) -> bool:
        return not any(o.status == FAIL for o in self.outcomes)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    def summary(self) -> str:
        return f"{self.count(PASS)} passed, {self.count(FAIL)} failed, {self.count(SKIP)} skipped"

    def text(self) -> str:
        width = max((len(o.subject) for o in self.outcomes), default=0)
        table = [self.table()] if self.trained else []
        return "\n".join([o.line(width) for o in self.outcomes] + table + [self.summary()])

    def table(self) -> str:
        """The ``--train`` rows: model, expected, measured, time, PASS/FAIL/SKIP."""
        from zoo_core.text import table

        return table([t.row() for t in self.trained], ["MODEL", "EXPECTED", "MEASURED", "TIME", "RESULT"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "passed": self.count(PASS),
            "failed": self.count(FAIL),
            "skipped": self.count(SKIP),
            "outcomes": [attrs.asdict(o) for o in self.outcomes],
            "trained": [attrs.asdict(t) for t in self.trained],
        }


class _Stop(Exception):
    """Ends one subject's checks after a FAIL or SKIP that the later checks depend on."""


@contextmanager
def _stage(emit: Callable[..., None], check: str) -> Iterator[None]:
    """Turn an unexpected error inside one check into that check's FAIL line."""
    try:
        yield
    except _Stop:
        raise
    except Exception as exc:
        if switch("ZOO_DEBUG"):
            traceback.print_exc()
        emit(FAIL, check, _error(exc))
        raise _Stop from exc


# -- the checks -------------------------------------------------------------------------------------
_OTHER_SEED = 20_231_107  # the round trip rebuilds the model from another seed than it was built with


def _error(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, ZooError) and text:
        return text.splitlines()[0]
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


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


def _finite(value: Any) -> float:
    number = float(value.item() if hasattr(value, "item") else value)
    if not math.isfinite(number):
        raise ValueError(f"not finite: {number}")
    return number


def _same(a: Any, b: Any) -> bool:
    """Bit-identical tensors, or tuples/lists/dicts of them."""
    import torch

    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _needs_files(entry: Entry) -> bool:
    """Whether a dataset reads files (it takes ``data_root`` or has a ``download`` setting)."""
    import inspect

    if "download" in entry.defaults:
        return True
    try:
        return "data_root" in inspect.signature(entry.load()).parameters
    except (TypeError, ValueError, ZooError):
        return False


def _offline(entry: Entry) -> dict[str, Any]:
    """Overrides that keep a dataset from downloading during checks."""
    return {"download": False} if "download" in entry.defaults else {}


class Checker:
    """Runs the contract on the current zoo's entries; ``workdir`` receives the short runs."""

    def __init__(self, workdir: Path, *, steps: int = DEFAULT_STEPS, data_root: str | None = None) -> None:
        self.workdir = Path(workdir)
        self.steps = steps
        self.data_root = data_root
        self._datasets: dict[str, Any] = {}

    # -- plumbing
    def _dataset(self, entry: Entry, params: dict[str, Any]) -> Any:
        from zoo_core.config import build_dataset

        key = f"{entry.qualname} {json.dumps(params, sort_keys=True, default=str)}"
        if key not in self._datasets:
            self._datasets[key] = build_dataset(entry, params, seed=0, data_root=self.data_root)
        return self._datasets[key]

    def _build_dataset(
        self, emit: Callable[..., None], entry: Entry, params: dict[str, Any], check: str
    ) -> Any:
        try:
            data = self._dataset(entry, params)
        except ZooError as exc:
            if _needs_files(entry):
                emit(
                    SKIP,
                    check,
                    f"dataset '{entry.name}' needs files that are missing here; pass --data-root DIR "
                    f"to check it ({_error(exc)})",
                )
                raise _Stop from exc
            raise
        if len(data.train) == 0:
            raise ZooError(f"dataset '{entry.name}' has no training samples")
        return data

    def run(self, subject: str, checks: Callable[[Callable[..., None]], None]) -> Iterator[Outcome]:
        """Run one subject's checks, yielding outcomes; an unexpected error is a FAIL, not a crash."""
        out: list[Outcome] = []

        def emit(status: str, check: str, detail: str) -> None:
            out.append(Outcome(status, subject, check, detail))

        try:
            checks(emit)
        except _Stop:
            pass
        except Exception as exc:  # a broken plugin is reported, never a crash of 'zoo check'
            if switch("ZOO_DEBUG"):
                traceback.print_exc()
            emit(FAIL, "checks", _error(exc))
        yield from out

    # -- models
    def model(self, entry: Entry) -> list[Outcome]:
        return list(self.run(f"model {entry.qualname}", lambda emit: self._model(entry, emit)))

    def _model(self, entry: Entry, emit: Callable[..., None]) -> None:
        import torch

        from zoo_core import checkpoint, distributed
        from zoo_core.assembly import assemble, build_model
        from zoo_core.config import resolve
        from zoo_core.training import evaluate_run, seed_everything, train_model

        registries = get_zoo().registries

        def fail(check: str, detail: str) -> None:
            emit(FAIL, check, detail)
            raise _Stop

        # 1. metadata, and the default dataset, optimizer and trainer resolve
        with _stage(emit, "metadata"):
            problems = metadata_problems(entry)
            if problems:
                fail("metadata", "; ".join(problems))
            loop = {"steps": self.steps}
            config = resolve(entry.qualname, device="cpu", data_root=self.data_root, loop=loop)
            data_entry = registries["dataset"].get(config.dataset)
            offline = _offline(data_entry)
            config.dataset_params.update(offline)
            emit(
                PASS,
                "metadata",
                f"summary, {'lesson' if entry.lesson else 'tags'}, JSON settings; dataset "
                f"{config.dataset}, optimizer {config.optimizer}, trainer {config.trainer}",
            )

        # 2. the model builds with its defaults, as 'zoo train' builds it
        cpu = torch.device("cpu")
        with _stage(emit, "builds"):
            torch.manual_seed(0)
            try:
                model = build_model(entry, config.model_params, cpu)
            except ZooError as exc:
                fail("builds", str(exc).partition(": ")[2] or str(exc))
            count = sum(p.numel() for p in model.parameters() if p.requires_grad)
            emit(PASS, "builds", f"with its defaults ({count:,} trainable parameters)")

        # 3. a batch of the default dataset goes through one training step of the shared loop
        with _stage(emit, "batch"):
            data = self._build_dataset(emit, data_entry, config.dataset_params, "batch")
            try:
                run = assemble(
                    config,
                    cpu,
                    distributed.Context(device=cpu),
                    say=lambda text: None,
                    model=model,
                    data=data,
                )
            except ZooError as exc:
                fail("batch", str(exc))
            step_logic = run.trainer
            batch = next(iter(run.plan.epoch(0)))
            model.train()
            losses = run.step(model, batch, run.optimizers)
            if not isinstance(losses, dict) or not losses:
                fail("batch", f"{type(step_logic).__name__}.step returned {losses!r}, not a dict of losses")
            try:
                shown = {k: _finite(v) for k, v in losses.items()}
            except (ValueError, TypeError, RuntimeError) as exc:
                fail("batch", f"the step's losses are not finite scalars ({exc})")
            first = batch[0] if isinstance(batch, (tuple, list)) else batch
            n = len(first) if hasattr(first, "__len__") else "?"
            emit(PASS, "batch", f"{n} samples of '{data_entry.name}' go through one step: {_fmt(shown)}")

        # 4. safetensors round trip: identical weights, and identical outputs
        with _stage(emit, "round trip"):
            model.eval()
            with torch.no_grad():
                try:
                    before = model(first)
                except Exception:  # forward takes something else (a GAN's noise): compare metrics
                    before = None
            path = self.workdir / f"{_safe(entry.qualname)}-roundtrip.safetensors"
            checkpoint.save_weights(
                model, path, {"zoo.model": entry.qualname, "zoo.config": config.to_dict()}
            )
            torch.manual_seed(_OTHER_SEED)  # anything kept outside the weights now comes out different
            loaded = checkpoint.load_model(path)
            expected, got = model.state_dict(), loaded.state_dict()
            if expected.keys() != got.keys() or not all(_same(expected[k], got[k]) for k in expected):
                fail("round trip", "the weights loaded from model.safetensors differ from the saved ones")
            if before is not None:
                with torch.no_grad():
                    after = loaded(first)
                if not _same(before, after):
                    fail(
                        "round trip",
                        "identical weights but different outputs after save and load: is some state "
                        "(e.g. a random projection) kept outside parameters and persistent buffers?",
                    )
                how = "weights and outputs on a batch"
            else:
                cpu = torch.device("cpu")
                m1, m2 = step_logic.evaluate(model, data, cpu), step_logic.evaluate(loaded, data, cpu)
                if m1.keys() != m2.keys() or not all(_close(m1[k], m2[k]) for k in m1):
                    fail("round trip", f"evaluation differs after save and load: {_fmt(m1)} vs {_fmt(m2)}")
                how = "weights and evaluation metrics (forward does not take the dataset's inputs)"
            emit(PASS, "round trip", f"model.safetensors save and load give identical {how}")

        # 5. a few steps of the shared trainer on the CPU lower the loss
        with _stage(emit, "trains"):
            run_dir = self.workdir / f"{_safe(entry.qualname)}-run"
            sets = ["loop.log_every=1"] + [f"dataset.{k}={str(v).lower()}" for k, v in offline.items()]
            result = train_model(
                entry.qualname,
                steps=self.steps,
                device="cpu",
                out=run_dir,
                data_root=self.data_root,
                sets=sets,
                quiet=True,
            )
            history = [row for row in result.history if row]
            keys = [k for k in (history[0] if history else {}) if k not in ("step", "epoch")]
            for key in keys:
                for row in history:
                    value = row.get(key)
                    if value is not None and not math.isfinite(value):
                        fail("trains", f"{key} became {value} at step {row['step']}")
            # the control: the untrained model, as the run built it, on the same fixed batch
            seed_everything(config.loop["seed"])
            initial = build_model(entry, config.model_params, cpu)
            trained = result.model
            reported = any(k == "loss" or k.startswith("loss_") for row in history for k in row)
            if not _weights_moved(initial, trained) and not reported:
                emit(
                    SKIP,
                    "trains",
                    f"{result.step} CPU steps reported no loss and left the weights unchanged: the "
                    "trainer had not begun to learn yet (a replay memory still filling, say)",
                )
            else:
                self._learns(emit, fail, config, data, batch, initial, trained, result.step)

        # 6. 'zoo eval' rebuilds the run from its model.safetensors
        with _stage(emit, "reloads"):
            evaluated = evaluate_run(run_dir, device="cpu", data_root=self.data_root)
            metrics = {k: v for k, v in evaluated["metrics"].items() if isinstance(v, (int, float))}
            bad = [k for k, v in metrics.items() if not math.isfinite(v)]
            if bad:
                fail("reloads", f"evaluating the reloaded run gives non-finite {', '.join(bad)}")
            emit(PASS, "reloads", f"'zoo eval' rebuilds the run: {_fmt(metrics) or 'no metrics'}")

    def train(self, entry: Entry) -> tuple[list[Outcome], Trained]:
        """Train ``entry``'s full recipe on the CPU and compare its metrics with its ``expects``."""
        expected = expectation(entry.expects) or "-"
        row = Trained(SKIP, entry.qualname, expected)

        def checks(emit: Callable[..., None]) -> None:
            from zoo_core.config import resolve
            from zoo_core.training import train_model

            if not entry.expects:
                emit(SKIP, "expects", "the model declares no expects=, so its result is not checked")
                return
            config = resolve(entry.qualname, device="cpu", data_root=self.data_root)
            data_entry = get_zoo().registries["dataset"].get(config.dataset)
            offline = _offline(data_entry)
            with _stage(emit, "expects"):
                self._build_dataset(emit, data_entry, {**config.dataset_params, **offline}, "expects")
                result = train_model(
                    entry.qualname,
                    device="cpu",
                    out=self.workdir / f"{_safe(entry.qualname)}-recipe",
                    data_root=self.data_root,
                    sets=[f"dataset.{k}={str(v).lower()}" for k, v in offline.items()],
                    quiet=True,
                )
            row.seconds = result.seconds
            measured, missed = [], []
            for metric, (op, bound) in entry.expects.items():
                value = result.metrics.get(metric)
                if not isinstance(value, (int, float)):
                    reported = ", ".join(result.metrics) or "none"
                    missed.append(f"the run reports no metric {metric!r} (it reports: {reported})")
                    continue
                measured.append(f"{metric}={value:.4g}")
                if not COMPARISONS[op](float(value), bound):
                    missed.append(f"{metric} = {value:.4g}, expected {op} {bound:g}")
            row.measured = " ".join(measured)
            recipe = f"its recipe ({result.step} steps, {result.seconds:.1f}s)"
            if missed:
                emit(FAIL, "expects", f"{recipe}: {'; '.join(missed)}")
            else:
                emit(PASS, "expects", f"{recipe}: {row.measured}, as declared ({expected})")

        outcomes = list(self.run(f"model {entry.qualname}", checks))
        row.status = outcomes[-1].status
        return outcomes, row

    def _learns(
        self,
        emit: Callable[..., None],
        fail: Callable[[str, str], None],
        config: Any,
        data: Any,
        batch: Any,
        initial: Any,
        trained: Any,
        steps: int,
    ) -> None:
        """The weights moved, and the loss on a fixed batch fell against the untrained control."""
        if not _weights_moved(initial, trained):
            fail(
                "trains",
                f"{steps} CPU steps left the weights unchanged: the step never updates them "
                "(does it call opt.step(), or optimizer.step() in a plugin API 1 trainer, and do "
                "its losses depend on the weights?)",
            )
        before, after = (self._fixed_batch_losses(config, m, data, batch) for m in (initial, trained))
        tracked = [k for k in before if k == "loss" or k.startswith("loss_")]
        if not tracked:
            emit(
                SKIP,
                "trains",
                f"{steps} CPU steps move the weights with finite losses ({', '.join(before)}), "
                "but none is named 'loss' or 'loss_*', so a drop is not checked",
            )
        else:
            drops = []
            for key in tracked:
                start, end = before[key], after[key]
                if not end < start - MIN_DROP * abs(start):
                    fail(
                        "trains",
                        f"{key} did not go down in {steps} CPU steps on a fixed batch "
                        f"({start:.4g} -> {end:.4g}; learning lowers it by {MIN_DROP:.0%} at least); "
                        "check the recipe's lr and that the step optimizes this loss",
                    )
                drops.append(f"{key} {start:.4g} -> {end:.4g}")
            emit(
                PASS,
                "trains",
                f"{steps} CPU steps move the weights and lower the loss on a fixed batch: {', '.join(drops)}",
            )

    def _fixed_batch_losses(self, config: Any, model: Any, data: Any, batch: Any) -> dict[str, float]:
        """The losses one step reports on ``batch``, from a copy of ``model`` (which stays as it is)."""
        import copy

        import torch

        from zoo_core import distributed
        from zoo_core.assembly import assemble

        cpu = torch.device("cpu")
        probe = copy.deepcopy(model)
        run = assemble(
            config, cpu, distributed.Context(device=cpu), say=lambda text: None, model=probe, data=data
        )
        probe.train()  # assemble seeded everything: both probes draw the same dropout masks
        losses = run.step(probe, batch, run.optimizers)
        return {k: _finite(v) for k, v in losses.items()}

    # -- datasets, optimizers, trainers
    def dataset(self, entry: Entry) -> list[Outcome]:
        def checks(emit: Callable[..., None]) -> None:
            if not _metadata(entry, emit):
                return
            with _stage(emit, "builds"):
                data = self._build_dataset(emit, entry, _offline(entry), "builds")
            n_eval = "no" if data.eval is None else f"{len(data.eval):,}"
            emit(
                PASS, "builds", f"with its defaults: {len(data.train):,} training samples, {n_eval} held out"
            )

        return list(self.run(f"dataset {entry.qualname}", checks))

    def optimizer(self, entry: Entry) -> list[Outcome]:
        def checks(emit: Callable[..., None]) -> None:
            import torch

            if not _metadata(entry, emit):
                return
            # a convex problem: linear regression from zero weights, noise-free
            gen = torch.Generator().manual_seed(0)
            x = torch.randn(64, 4, generator=gen)
            y = x @ torch.randn(4, 1, generator=gen) + 0.5
            layer = torch.nn.Linear(4, 1)
            torch.nn.init.zeros_(layer.weight), torch.nn.init.zeros_(layer.bias)
            lr = min(DESCENT_LR, entry.lr or DESCENT_LR)
            with _stage(emit, "builds"):
                opt = entry.load()(layer.parameters(), lr=lr, **entry.params())
            if not isinstance(opt, torch.optim.Optimizer):
                emit(
                    FAIL, "builds", f"the factory returned {type(opt).__name__}, not a torch.optim.Optimizer"
                )
                return
            emit(PASS, "builds", f"{_article(type(opt).__name__)} over a Linear layer")
            with _stage(emit, "descends"):
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

        return list(self.run(f"optimizer {entry.qualname}", checks))

    def trainer(self, entry: Entry) -> list[Outcome]:
        def checks(emit: Callable[..., None]) -> None:
            from zoo_core.trainer import Trainer

            if not _metadata(entry, emit):
                return
            with _stage(emit, "builds"):
                made = entry.create()
            if not isinstance(made, Trainer):
                emit(FAIL, "builds", f"the factory returned {type(made).__name__}, not a zoo_core.Trainer")
                return
            emit(PASS, "builds", f"with its defaults ({_article(type(made).__name__)})")

        return list(self.run(f"trainer {entry.qualname}", checks))

    def scheduler(self, entry: Entry) -> list[Outcome]:
        def checks(emit: Callable[..., None]) -> None:
            import torch

            if not _metadata(entry, emit):
                return
            opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
            with _stage(emit, "builds"):
                made = entry.load()(opt, 10, **entry.params())
            if made is not None and not isinstance(made, torch.optim.lr_scheduler.LRScheduler):
                emit(
                    FAIL,
                    "builds",
                    f"the factory returned {type(made).__name__}, not a torch LRScheduler (or None)",
                )
                return
            shown = "no schedule (None)" if made is None else _article(type(made).__name__)
            emit(PASS, "builds", f"over an SGD optimizer for 10 steps: {shown}")

        return list(self.run(f"scheduler {entry.qualname}", checks))

    def entry(self, entry: Entry) -> list[Outcome]:
        return getattr(self, entry.kind)(entry)


def _metadata(entry: Entry, emit: Callable[..., None]) -> bool:
    problems = metadata_problems(entry)
    if problems:
        emit(FAIL, "metadata", "; ".join(problems))
        return False
    emit(PASS, "metadata", f"summary, {'lesson' if entry.lesson else 'tags'}, JSON defaults")
    return True


def _weights_moved(before: Any, after: Any) -> bool:
    """Whether any parameter of ``after`` differs from the same parameter of ``before``."""
    import torch

    old = dict(before.named_parameters())
    return any(not torch.equal(old[name].detach(), p.detach().cpu()) for name, p in after.named_parameters())


def _article(noun: str) -> str:
    """``a Trainer``, ``an ELBOTrainer``, ``an SGD``: the article as the name is spoken."""
    acronym = noun[:2].isupper()
    vowel = noun[:1] in ("AEFHILMNORSX" if acronym else "AEIOaeio")
    return f"{'an' if vowel else 'a'} {noun}"


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9) or (math.isnan(a) and math.isnan(b))
    return a == b


def _fmt(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


def _safe(name: str) -> str:
    return name.replace(":", "__").replace("/", "_")


# -- listing without torch, in a fresh interpreter -------------------------------------------------
_LISTING = r"""
import importlib.abc, json, sys, traceback
found = {}
class Spy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" and not found:
            frames = [f for f in traceback.extract_stack()[:-1] if "importlib" not in f.filename]
            if frames:
                found["by"] = f"{frames[-1].filename}:{frames[-1].lineno}"
        return None
sys.meta_path.insert(0, Spy())
import zoo_core
from zoo_core.plugins import PluginInfo, Zoo, get_zoo, set_zoo
from zoo_core.registry import KINDS
name, module = sys.argv[1], sys.argv[2]
if module:
    zoo = Zoo()
    zoo.add_plugin(importlib.import_module(module), PluginInfo(name=name, module=module))
    set_zoo(zoo)
zoo = get_zoo()
info = zoo.plugins.get(name)
entries = [e.to_dict() for kind in KINDS for e in zoo.registries[kind].list(plugin=name)]
zoo_core.list_models(), zoo_core.list_datasets(), zoo_core.list_optimizers(), zoo_core.list_trainers()
print(json.dumps({"status": info.status if info else "missing", "error": info.error if info else "",
                  "entries": len(entries), "torch": "torch" in sys.modules, "by": found.get("by", "")}))
"""


def check_listing(info: PluginInfo) -> Outcome:
    """Listing the plugin's entries in a fresh interpreter must not import torch."""
    subject = f"plugin {info.name}"
    found = installed().get(info.name)
    loaded = get_zoo().pm.get_plugin(info.name)
    if found is not None and found[1].module == info.module:
        env_plugins, module = info.name, ""
    elif (
        isinstance(loaded, ModuleType)
        and loaded.__name__ == info.module
        and getattr(loaded, "__file__", None)
    ):
        env_plugins, module = "", info.module
    else:
        why = "neither an installed plugin nor an importable module: it cannot be listed in a new process"
        return Outcome(SKIP, subject, "listing", why)
    env = dict(os.environ)
    env["ZOO_LOAD_PLUGINS"] = env_plugins
    env.pop("ZOO_BLOCK_PLUGINS", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    proc = subprocess.run(
        [sys.executable, "-c", _LISTING, info.name, module],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    lines = proc.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        err = proc.stderr.strip().splitlines()
        return Outcome(
            FAIL,
            subject,
            "listing",
            f"listing in a new process failed: {err[-1] if err else proc.returncode}",
        )
    if result["status"] != "loaded":
        return Outcome(
            FAIL, subject, "listing", f"in a new process the plugin is {result['status']}: {result['error']}"
        )
    if result["torch"]:
        where = f" (first from {result['by']})" if result["by"] else ""
        return Outcome(
            FAIL,
            subject,
            "listing",
            f"loading the plugin and listing its entries imports torch{where}; import torch only in "
            "the modules your 'module:attr' factories name",
        )
    return Outcome(PASS, subject, "listing", f"its {result['entries']} entries list without importing torch")


# -- what 'zoo check' runs --------------------------------------------------------------------------
def plan(targets: tuple[str, ...] | list[str]) -> list[tuple[str, Any]]:
    """The subjects to check for ``targets`` (plugin names, ``plugin:name`` or entry names)."""
    zoo = get_zoo()
    todo: list[tuple[str, Any]] = []
    for target in targets:
        if ":" not in target and target in zoo.plugins:
            info = zoo.plugins[target]
            todo.append(("plugin", info))
            if info.status == "loaded":
                for kind in KINDS:
                    todo += [("entry", e) for e in zoo.registries[kind].list(plugin=target)]
                todo += [("command", (info, name)) for name in info.commands]
                todo.append(("listing", info))
            continue
        found = zoo.entries_named(target)
        if not found:
            raise ZooError(f"no plugin or entry named '{target}' (see 'zoo plugins' and 'zoo list')")
        todo += [("entry", e) for e in found]
    return todo


def subject_of(kind: str, item: Any) -> str:
    if kind == "entry":
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

    def add(outcome: Outcome) -> None:
        report.outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    with tempfile.TemporaryDirectory(prefix="zoo-check-") as tmp:
        checker = Checker(Path(workdir or tmp), steps=steps, data_root=data_root)
        for kind, item in todo:
            if kind == "plugin":
                add(_plugin_outcome(item))
            elif kind == "entry":
                for outcome in checker.entry(item):
                    add(outcome)
                if train and item.kind == "model":
                    outcomes, row = checker.train(item)
                    for outcome in outcomes:
                        add(outcome)
                    report.trained.append(row)
            elif kind == "command":
                add(_command_outcome(*item))
            elif kind == "listing" and listing:
                add(check_listing(item))
    return report


def _plugin_outcome(info: PluginInfo) -> Outcome:
    subject = f"plugin {info.name}"
    label = f"{info.distribution} {info.version}".strip() or info.module
    if info.status == "loaded" and info.warnings:
        return Outcome(FAIL, subject, "loads", f"{label}: {'; '.join(info.warnings)}")
    if info.status == "loaded":
        what = ", ".join(f"{len(v)} {k}" for k, v in info.registered.items()) or "no entries"
        if info.commands:
            what += f", commands: {' '.join(info.commands)}"
        return Outcome(PASS, subject, "loads", f"{label}: {what}")
    if info.status in ("skipped", "blocked"):
        why = "ZOO_LOAD_PLUGINS" if info.status == "skipped" else "ZOO_BLOCK_PLUGINS"
        return Outcome(SKIP, subject, "loads", f"{label}: {info.status} by {why}")
    return Outcome(FAIL, subject, "loads", f"{label}: {info.status}: {info.error}")


def _command_outcome(info: PluginInfo, name: str) -> Outcome:
    import click

    subject = f"command {name}"
    command = get_zoo().commands[name][1]
    try:
        with click.Context(command, info_name=name) as ctx:
            help_text = command.get_help(ctx)
    except Exception as exc:
        return Outcome(FAIL, subject, "help", _error(exc))
    return Outcome(
        PASS, subject, "help", f"'zoo {name} --help' renders ({len(help_text.splitlines())} lines)"
    )
