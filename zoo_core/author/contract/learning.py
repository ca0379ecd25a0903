"""Whether a model learns: a few CPU steps lower its loss on a fixed batch (the ``trains`` check),
and with ``zoo check --train`` its full recipe meets the ``expects`` it declares."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from zoo_core.author.contract.parts import SHORT_RUN_SCHEDULER, Bench, ModelCase, offline
from zoo_core.author.contract.report import FAIL, PASS, SKIP, Emit, Outcome, Trained, fail, outcomes, stage
from zoo_core.plugin.discovery import get_zoo
from zoo_core.plugin.registry import COMPARISONS, Entry, expectation

#: the least relative drop of the loss on a fixed batch that counts as learning, not noise
MIN_DROP = 0.01


def finite_loss(value: Any) -> float:
    """A loss as a float; NaN or infinity raises, since no check passes on such a loss."""
    number = float(value.item() if hasattr(value, "item") else value)
    if not math.isfinite(number):
        raise ValueError(f"not finite: {number}")
    return number


def trains(bench: Bench, case: ModelCase, emit: Emit) -> Path:
    """5. a few steps of the shared trainer on the CPU lower the loss; returns the run's folder."""
    import torch

    from zoo_core.training.assembly import build_model
    from zoo_core.training.loop import train_model
    from zoo_core.training.seeding import seed_everything

    entry, config = case.entry, case.config
    with stage(emit, "trains"):
        run_dir = bench.path(entry, "run")
        sets = ["loop.log_every=1"] + [
            f"dataset.{k}={str(v).lower()}" for k, v in offline(case.data_entry).items()
        ]
        result = train_model(
            entry.qualname,
            steps=bench.steps,
            scheduler=SHORT_RUN_SCHEDULER,
            device="cpu",
            out=run_dir,
            data_root=bench.data_root,
            sets=sets,
            quiet=True,
        )
        history = [row for row in result.history if row]
        keys = [k for k in (history[0] if history else {}) if k not in ("step", "epoch")]
        for key in keys:
            for row in history:
                value = row.get(key)
                if value is not None and not math.isfinite(value):
                    fail(emit, "trains", f"{key} became {value} at step {row['step']}")
        # the control: the untrained model, as the run built it, on the same fixed batch
        seed_everything(config.loop.seed)
        initial = build_model(entry, config.model_params, torch.device("cpu"))
        reported = any(k == "loss" or k.startswith("loss_") for row in history for k in row)
        if not _weights_moved(initial, result.model) and not reported:
            emit(
                SKIP,
                "trains",
                f"{result.step} CPU steps reported no loss and left the weights unchanged: the "
                "trainer had not begun to learn yet (a replay memory still filling, say)",
            )
        else:
            _learns(emit, case, initial, result.model, result.step)
    return run_dir


def _learns(emit: Emit, case: ModelCase, initial: Any, trained: Any, steps: int) -> None:
    """The weights moved, and the loss on a fixed batch fell against the untrained control."""
    if not _weights_moved(initial, trained):
        fail(
            emit,
            "trains",
            f"{steps} CPU steps left the weights unchanged: the step never updates them "
            "(does it call opt.step(), and do "
            "its losses depend on the weights?)",
        )
    before, after = (_fixed_batch_losses(case, m) for m in (initial, trained))
    tracked = [k for k in before if k == "loss" or k.startswith("loss_")]
    if not tracked:
        emit(
            SKIP,
            "trains",
            f"{steps} CPU steps move the weights with finite losses ({', '.join(before)}), "
            "but none is named 'loss' or 'loss_*', so a drop is not checked",
        )
        return
    drops = []
    for key in tracked:
        start, end = before[key], after[key]
        if not end < start - MIN_DROP * abs(start):
            fail(
                emit,
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


def _fixed_batch_losses(case: ModelCase, model: Any) -> dict[str, float]:
    """The losses one step reports on the case's batch, from a copy of ``model`` (which stays as it is)."""
    import copy

    import torch

    from zoo_core.training.assembly import assemble
    from zoo_core.training.parallel import worker as distributed

    cpu = torch.device("cpu")
    probe = copy.deepcopy(model)
    run = assemble(
        case.config, cpu, distributed.Context(device=cpu), say=lambda text: None, model=probe, data=case.data
    )
    probe.train()  # assemble seeded everything: both probes draw the same dropout masks
    losses = run.step(probe, case.batch, run.optimizers)
    return {k: finite_loss(v) for k, v in losses.items()}


def _weights_moved(before: Any, after: Any) -> bool:
    """Whether any parameter of ``after`` differs from the same parameter of ``before``."""
    import torch

    old = dict(before.named_parameters())
    return any(not torch.equal(old[name].detach(), p.detach().cpu()) for name, p in after.named_parameters())


def check_recipe(bench: Bench, entry: Entry) -> tuple[list[Outcome], Trained]:
    """Train ``entry``'s full recipe on the CPU and compare its metrics with its ``expects``."""
    expected = expectation(entry.expects) or "-"
    row = Trained(SKIP, entry.qualname, expected)

    def checks(emit: Emit) -> None:
        from zoo_core.config.resolver import resolve
        from zoo_core.training.loop import train_model

        if not entry.expects:
            emit(
                SKIP,
                "expects",
                "the model declares no expects=, so its result is not checked; measure its recipe over "
                f"seeds under ATEN_CPU_CAPABILITY={', '.join(kernel_sets())} and declare bounds that hold on all",
            )
            return
        config = resolve(entry.qualname, device="cpu", data_root=bench.data_root)
        data_entry = get_zoo().datasets.get(config.dataset)
        overrides = offline(data_entry)
        with stage(emit, "expects"):
            bench.dataset(emit, data_entry, {**config.dataset_params, **overrides}, "expects")
            result = train_model(
                entry.qualname,
                device="cpu",
                out=bench.path(entry, "recipe"),
                data_root=bench.data_root,
                sets=[f"dataset.{k}={str(v).lower()}" for k, v in overrides.items()],
                quiet=True,
            )
        row.seconds = result.seconds
        measured, missed = _measure(entry, result.metrics)
        row.measured = " ".join(measured)
        recipe = f"its recipe ({result.step} steps, {result.seconds:.1f}s)"
        if missed:
            emit(FAIL, "expects", f"{recipe}: {'; '.join(missed)}")
        else:
            emit(PASS, "expects", f"{recipe}: {row.measured}, as declared ({expected})")

    done = outcomes(f"model {entry.qualname}", checks, bench.shown)
    row.status = done[-1].status
    return done, row


def kernel_sets() -> list[str]:
    """The CPU kernel sets a bound must hold under: ``default``, ``avx2``, and ``avx512`` where this CPU has it."""
    import torch

    sets = ["default", "avx2"]
    if "avx512" in torch.backends.cpu.get_cpu_capability().lower():
        sets.append("avx512")
    return sets


def _measure(entry: Entry, metrics: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The declared metrics as measured (``name=value``), and each way the run misses its ``expects``."""
    measured, missed = [], []
    for metric, (op, bound) in entry.expects.items():
        value = metrics.get(metric)
        if not isinstance(value, (int, float)):
            reported = ", ".join(metrics) or "none"
            missed.append(f"the run reports no metric {metric!r} (it reports: {reported})")
            continue
        measured.append(f"{metric}={value:.4g}")
        if not COMPARISONS[op](float(value), bound):
            missed.append(f"{metric} = {value:.4g}, expected {op} {bound:g}")
    return measured, missed
