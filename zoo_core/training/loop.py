"""The shared trainer: the loop around every lesson's step, readable top to bottom.

CLI -> ``train_model`` -> ``fit`` -> run folder. Trainer entries supply only the step (and their
metrics and figures); devices, seeding, batches, logging, checkpoints and resume live here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from zoo_core.config import settings
from zoo_core.config.files import ConfigFile
from zoo_core.config.resolver import resolve
from zoo_core.config.runconfig import RunConfig
from zoo_core.plugin import errors
from zoo_core.plugin.discovery import get_zoo
from zoo_core.plugin.errors import Interrupted, RunFailed, ZooError
from zoo_core.plugin.trainer import check_batch
from zoo_core.store import checkpoint, lock
from zoo_core.store.runs import (
    CONFIG,
    METRICS,
    SUMMARY,
    check_path,
    failing,
    find_run,
    mark_status,
    new_run_dir,
    read_json,
    reopen_run,
)
from zoo_core.training.assembly import assemble
from zoo_core.training.parallel import worker as distributed
from zoo_core.training.progress import Progress, stop_on_sigint
from zoo_core.training.record import Record


@attrs.define(repr=False)
class RunResult:
    """What a finished run reports (and ``--json`` prints)."""

    run_dir: Path
    config: RunConfig
    metrics: dict[str, float]
    history: list[dict[str, Any]]
    step: int
    seconds: float
    loop_seconds: float
    device: str
    device_reason: str
    files: list[str]
    model: Any = attrs.field(default=None, repr=False, eq=False)  # the trained module, in memory
    compile_seconds: float | None = None  # the first step's compile time, apart from loop_seconds

    def __repr__(self) -> str:
        """One line for a notebook: where, what, how far and how well (``history`` has every row)."""
        metrics = ", ".join(
            f"'{k}': {v:.4g}" if isinstance(v, float) else f"'{k}': {v!r}" for k, v in self.metrics.items()
        )
        return (
            f"RunResult(run_dir='{self.run_dir}', model='{self.config.model}', step={self.step}, "
            f"metrics={{{metrics}}}, seconds={self.seconds:.1f}, device='{self.device}')"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir),
            "model": self.config.model,
            "metrics": self.metrics,
            "step": self.step,
            "seconds": round(self.seconds, 3),
            "loop_seconds": round(self.loop_seconds, 3),
            "compile_seconds": round(self.compile_seconds, 3) if self.compile_seconds else None,
            "steps_per_second": round(self.step / self.loop_seconds, 2) if self.loop_seconds else None,
            "device": self.device,
            "device_reason": self.device_reason,
            "files": self.files,
        }


def configure(
    model: str | None = None,
    *,
    dataset: str | None = None,
    optimizer: str | None = None,
    trainer: str | None = None,
    scheduler: str | None = None,
    sets: Iterable[str] = (),
    device: str | None = None,
    out: str | Path | None = None,
    data_root: str | None = None,
    config_file: str | Path | None = None,
    save_format: str | None = None,
    resume: str | Path | None = None,
    **loop: Any,
) -> tuple[RunConfig, Path | None]:
    """What a ``zoo train`` command line means: the config and the run it resumes (or None).
    ``loop`` takes the loop's settings by name (``steps=``, ``lr=`` ...).

    On resume, ``save_format`` (what is saved from now on) and ``data_root`` (the data may have
    moved) are honoured; the run's own are kept when they are not given."""
    unknown = sorted(set(loop) - set(settings.NAMES))
    if unknown:
        raise TypeError(f"unknown loop settings {unknown}; see zoo_core.config.settings.Loop")
    if resume is not None:
        changes = {
            "--dataset": dataset,
            "--optimizer": optimizer,
            "--trainer": trainer,
            "--scheduler": scheduler,
            "--set": list(sets) or None,
            "--out": out,
            "--config": config_file,
            **{f"--{k.replace('_', '-')}": v for k, v in loop.items() if k not in ("steps", "epochs")},
        }
        config, run_dir = _reopen(resume, model, changes, device, loop)
        if data_root is not None:
            config.data_root = data_root
        if save_format is not None:
            config.save_format = save_format  # checked as it is set
        return config, run_dir
    config = resolve(
        model,
        dataset=dataset,
        optimizer=optimizer,
        trainer=trainer,
        scheduler=scheduler,
        loop=loop,
        sets=sets,
        device=device,
        data_root=data_root,
        file=ConfigFile.read(config_file) if config_file is not None else None,
        save_format=save_format,
    )
    return config, None


def train_model(
    model: str | None = None,
    *,
    out: str | Path | None = None,
    quiet: bool = True,
    on_step: Callable[[int], None] | None = None,
    timeout: int | None = None,
    on_evaluate: Callable[[int, dict[str, Any]], None] | None = None,
    **options: Any,
) -> RunResult:
    """Resolve the config, make (or reopen) the run folder and train: what ``zoo train`` does.

    ``options`` are ``configure``'s: the parts by name, ``sets``, ``device``, ``data_root``,
    ``config_file``, ``save_format``, ``resume`` and the loop's settings (``steps=``, ``lr=`` ...).
    ``timeout`` is how long a worker of a data-parallel job waits for a silent one (``--timeout``);
    ``on_step(step)`` and ``on_evaluate(step, metrics)`` are ``fit``'s.
    """
    config, run_dir = configure(model, out=out, **options)
    dist = distributed.setup(config.device, timeout)  # the only process, or one worker of a torchrun job
    if run_dir is not None:
        distributed.on_main(dist, reopen_run, run_dir)  # lock, then finish a cut commit
        try:
            if not (run_dir / checkpoint.STATE).exists():
                raise ZooError(
                    f"{run_dir}: no resumable state (config.json and {checkpoint.STATE}) to resume from"
                )
            with failing(run_dir, config.model):  # failed runs marked; a full disk is one line
                return fit(
                    config, run_dir, dist, resume=True, quiet=quiet, on_step=on_step, on_evaluate=on_evaluate
                )
        finally:
            lock.release(run_dir)
    if out is not None:
        out = check_path(out)
    created = out is None or not out.exists()
    run_dir = distributed.on_main(dist, new_run_dir, config.model, out)
    try:
        with failing(run_dir, config.model):  # failed runs marked; a full disk is one line
            return fit(
                config, run_dir, dist, resume=False, quiet=quiet, on_step=on_step, on_evaluate=on_evaluate
            )
    except BaseException:
        _discard_if_unstarted(run_dir, created)
        raise
    finally:
        lock.release(run_dir)


def _reopen(
    resume: str | Path, model: str | None, changes: dict[str, Any], device: str | None, loop: dict[str, Any]
) -> tuple[RunConfig, Path, str]:
    """The saved run to continue: only its length may grow, and its device change."""
    run_dir = find_run(resume)
    saved = read_json(run_dir / CONFIG)
    if not isinstance(saved, dict) or "config" not in saved:
        raise ZooError(f"{run_dir}: no resumable state (config.json and {checkpoint.STATE}) to resume from")
    # read back, validated; a run saved before the config held its save format has it beside
    recorded = {"save_format": saved.get("save_format", "safetensors"), **saved["config"]}
    config = RunConfig.from_dict(recorded, str(run_dir / CONFIG))
    if model is not None:
        wanted = get_zoo().models.get(model).qualname
        if wanted != config.model:
            raise ZooError(f"--resume {run_dir}: that run trained '{config.model}', not '{wanted}'")
    given = [flag for flag, value in changes.items() if value is not None]
    if given:
        raise ZooError(
            f"--resume {run_dir}: {', '.join(given)} would change what was trained so far; resume "
            "without them (--steps, --epochs, --device, --data-root and --save-format may change), or start a new run"
        )
    longer = {k: loop[k] for k in ("steps", "epochs") if loop.get(k) is not None}
    if len(longer) > 1:
        raise ZooError("give either --epochs or --steps, not both")
    finished = read_json(run_dir / SUMMARY).get("status") == "finished"
    if longer:
        (key, value), was = next(iter(longer.items())), getattr(config.loop, next(iter(longer)))
        if was is not None and value <= was:
            raise ZooError(
                f"--resume {run_dir}: --{key} {value} is not more than the run's {was}; "
                f"resume without --{key} to finish it, or give more"
            )
        config.loop = config.loop.replace(**{"steps": None, "epochs": None, key: value})
    elif finished:
        length = " ".join(
            f"{k}={getattr(config.loop, k)}" for k in ("steps", "epochs") if getattr(config.loop, k)
        )
        raise ZooError(
            f"--resume {run_dir}: the run already finished ({length}); nothing changed. "
            "Pass a longer --steps or --epochs to train it further"
        )
    if device is not None:
        config.device = device
    return config, run_dir


def _discard_if_unstarted(run_dir: Path, created: bool) -> None:
    """A run that failed while being set up (nothing written yet) leaves no empty folder behind."""
    if run_dir.is_dir() and not any(p.name not in lock.NAMES for p in run_dir.iterdir()):
        lock.release(run_dir)  # [integrity] the lock files go too: the folder is as it was
        for name in lock.NAMES:
            (run_dir / name).unlink(missing_ok=True)
        if created:
            run_dir.rmdir()


def fit(
    config: RunConfig,
    run_dir: Path,
    dist: distributed.Context,
    *,
    resume: bool = False,
    quiet: bool = True,
    on_step: Callable[[int], None] | None = None,
    on_evaluate: Callable[[int, dict[str, Any]], None] | None = None,
) -> RunResult:
    """Train ``config`` into ``run_dir``: build the run, loop over its batches, then finish.

    Like nanoGPT's ``train.py`` it reads top to bottom; what the run writes is ``Record``'s
    (record.py) and what it optimizes ``Optimization``'s, so only the order lives here.
    ``on_step(step)`` is called after every optimizer step and ``on_evaluate(step, metrics)`` after
    every evaluation inside the loop (``eval_every``), its metrics recorded first: either may stop
    the run by raising (``zoo_core.RunStopped`` names the status the run folder keeps).
    """
    from zoo_core.training.devices import environment

    started = time.perf_counter()
    progress = Progress(0, quiet or not dist.is_main)

    # 1. Build everything (model, data, trainer, optimizers, schedulers, the step), seeded.
    run = assemble(config, dist.device, dist, say=progress.say)
    model, plan = run.parts.model, run.plan
    check_batch(run.trainer, model, next(plan.stream())[1])  # data it cannot take: one line, before step 1
    record = Record(run, run_dir, dist, {**environment(dist.device), **dist.describe()}, on_evaluate)
    step = _first_step(record, resume)  # optimizer steps taken
    progress.total = plan.total_steps
    length = f"resuming at step {step} of {plan.total_steps}" if resume else f"{plan.total_steps} steps"
    for notice in [
        *run.notices,
        f"training {config.model} on {dist.device} ({dist.reason}); {length} -> {run_dir}",
    ]:
        progress.say(notice)

    # 2. The loop: one pass over (epoch, micro-batch); every ``accumulate`` micro-batches end in an
    #    optimizer step. Losses stay on the device until a row is logged.
    losses = Losses()
    stopped = ""  # why the loop ended before the last batch: patience, or a signal
    loop_started = time.perf_counter()
    model.train()
    with stop_on_sigint(terminate=not dist.active) as interrupt:
        first = step * config.loop.accumulate
        for batch_no, (epoch, batch) in enumerate(plan.stream(start=first), start=first + 1):
            losses.add(_train_step(run, batch, step + 1))
            if not run.opt.end_micro_batch() and batch_no < plan.total_batches:
                continue  # the accumulation window goes on: no optimizer step yet
            step += 1
            progress.update(step, record.after_step(step, epoch, losses, progress))
            if on_step is not None:
                on_step(step)
            stopped = record.stop_reason() or ("signal" if interrupt["stop"] else "")
            if stopped:
                break
    compile_seconds = getattr(run.step, "compile_seconds", None)
    loop_seconds = time.perf_counter() - loop_started - (compile_seconds or 0)
    if stopped == "signal" and step < plan.total_steps:
        _interrupted(record, progress, step, int(interrupt["signal"]), started)
    if stopped == "patience":
        progress.say(record.watch.why_stopped())

    # 3. Evaluate once more, save the last checkpoint and the best weights, draw the figures.
    timing = {"seconds": time.perf_counter() - started, "loop_seconds": loop_seconds}
    return _finish(record, progress, step, {**timing, "compile_seconds": compile_seconds})


def _finish(record: Record, progress: Progress, step: int, timing: dict[str, Any]) -> RunResult:
    """The end of a run: the final evaluation, the last checkpoint, figures and ``summary.json``."""
    run, dist, run_dir, config = record.run, record.dist, record.run_dir, record.config
    model, data, trainer = run.parts.model, run.parts.data, run.trainer
    log = record.log
    if not any("loss" in key for row in log.rows for key in row):  # e.g. a DQN whose memory never filled
        progress.say(
            f"note: none of the {step} steps reported a loss, so the model has not learned yet; "
            "train longer (--steps, --epochs)"
        )
    metrics = {k: v for k, v in log.rows[-1].items() if k not in _NOT_METRICS} if log.rows else {}
    final = trainer.evaluate(model, data, dist.device)
    metrics.update(final)
    model.train()
    if log.rows:
        log.rows[-1].update(metrics)
    files = record.finish(step, metrics, final)
    if dist.is_main:
        files += draw_figures(
            trainer, model, data, dist.device, log.rows, run_dir, config.model, progress.say
        )
    result = RunResult(
        run_dir=run_dir,
        config=config,
        metrics=metrics,
        history=log.rows,
        step=step,
        device=str(dist.device),
        device_reason=dist.reason,
        files=[METRICS, CONFIG, *files, SUMMARY],
        model=model,
        **timing,
    )
    if dist.is_main:
        mark_status(run_dir, "finished", **result.to_dict(), **record.summary())
    progress.close()
    dist.wait_for_all()
    return result


_NOT_METRICS = ("step", "epoch", "lr")


class Losses:
    """The losses of the micro-batches since the last logged row, summed on the device."""

    def __init__(self) -> None:
        self.sums: dict[str, Any] = {}
        self.count = 0

    def add(self, losses: Mapping[str, Any]) -> None:
        for key, value in losses.items():
            self.sums[key] = self.sums[key] + value if key in self.sums else value
        self.count += 1

    def means(self) -> dict[str, float]:
        """Their means as floats (one read from the device), and a fresh start."""
        means = {k: float(v) / self.count for k, v in self.sums.items()}
        self.sums, self.count = {}, 0
        return means


def _first_step(record: Record, resume: bool) -> int:
    """The step a run starts from (its saved one on resume), checked before config.json is written."""
    run = record.run
    step = record.restore(record.dist.device) if resume else 0
    if step > run.plan.total_steps:
        raise ZooError(f"the run is at step {step} already; give a --steps or --epochs that goes further")
    if record.watch is not None and not resume:  # a --monitor it never reports: refused, no run
        record.watch.check_before(run.trainer, run.parts.model, run.parts.data, record.dist.device)
    record.start(step)
    return step


def _train_step(run: Any, batch: Any, step: int) -> Mapping[str, Any]:
    """One micro-batch through the run's step; a plugin's bug is named as the plugin's, not zoo's."""
    try:
        return run.step(run.parts.model, batch, run.optimizers)
    except Exception as exc:
        blamed = _blame(exc, run, step)
        if blamed is None:
            raise
        raise blamed from exc


def _interrupted(record: Record, progress: Progress, step: int, signum: int, started: float) -> None:
    """Save a resumable state where a signal stopped the run, say where, and end it (128 + N)."""
    progress.close()
    record.save(step)
    run_dir, model = record.run_dir, record.config.model
    if not record.dist.is_main:
        raise SystemExit(128 + signum)  # worker 0 says where the state is
    last = {k: v for k, v in record.log.rows[-1].items() if k not in _NOT_METRICS} if record.log.rows else {}
    seconds = round(time.perf_counter() - started, 3)  # where it stopped, for zoo runs
    mark_status(run_dir, "interrupted", step=step, seconds=seconds, metrics=last)
    raise Interrupted(
        f"interrupted{_by(signum)} at step {step}/{record.run.plan.total_steps}; state saved in {run_dir}; "
        f"resume with: zoo train {model} --resume {run_dir}",
        signum,
    )


def _by(signum: int) -> str:
    """`` by SIGTERM`` for a signal other than Ctrl-C: says who stopped the run."""
    import signal

    return "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"


def _blame(exc: Exception, run: Any, step: int) -> RunFailed | None:
    """An error raised in the model's or the trainer's own code, as one line naming the entry and
    the phase (``model 'x:y' failed in forward at step 1: ...``); None for anyone else's."""
    import torch

    model, trainer, config = run.parts.model, run.trainer, run.parts.config
    factories = (run.parts.model_entry.load(), get_zoo().trainers.get(config.trainer).load())
    modules = (type(model).__module__, type(trainer).__module__, *(f.__module__ for f in factories))
    packages = {m.split(".")[0] for m in modules if m} - {"zoo_core", "torch"}
    found = errors.raised_in(exc, packages)
    if found is None:
        return None
    owner, phase = found
    kind, name = (
        ("model", config.model) if isinstance(owner, torch.nn.Module) else ("trainer", config.trainer)
    )
    return RunFailed(
        f"{kind} '{name}' failed in {phase} at step {step}: {type(exc).__name__}: {errors.first_line(exc)} "
        "(--debug shows the traceback)"
    )


def draw_figures(
    step_logic: Any,
    model: Any,
    data: Any,
    device: Any,
    history: list[dict[str, Any]],
    run_dir: Path,
    title: str,
    say: Callable[[str], None],
) -> list[str]:
    """The lesson's figures and the loss curve; without matplotlib, a notice instead of a failure."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        say("figures skipped: matplotlib is not installed (pip install matplotlib)")
        return []
    from zoo_core.plugin.figures import loss_curve

    paths = list(step_logic.figures(model, data, device, history, run_dir) or [])
    curve = loss_curve(history, run_dir / "loss.png", title=title)
    return [Path(p).name for p in paths] + ([curve.name] if curve else [])
