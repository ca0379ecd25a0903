"""The shared trainer: the loop around every lesson's step, readable top to bottom.

CLI -> ``train_model`` -> ``fit`` -> run folder. Trainer entries supply only the step (and their
metrics and figures); devices, seeding, batches, logging, checkpoints and resume live here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

from zoo_core import checkpoint, distributed, lock, settings
from zoo_core.assembly import assemble
from zoo_core.config import RunConfig, resolve
from zoo_core.configfile import ConfigFile
from zoo_core.data import to_device
from zoo_core.errors import Interrupted, ZooError
from zoo_core.plugins import get_zoo
from zoo_core.progress import Progress, stop_on_sigint
from zoo_core.record import Record
from zoo_core.runs import (
    CONFIG,
    METRICS,
    SUMMARY,
    check_losses,
    failing,
    find_run,
    mark_status,
    new_run_dir,
    read_json,
    reopen_run,
)
from zoo_core.trainer import check_batch


@attrs.define
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
    save_format: str = "safetensors",
    resume: str | Path | None = None,
    **loop: Any,
) -> tuple[RunConfig, Path | None, str]:
    """What a ``zoo train`` command line means: the config, the run it resumes (or None) and the
    save format. ``loop`` takes the loop's settings by name (``steps=``, ``lr=`` ...)."""
    unknown = sorted(set(loop) - set(settings.NAMES))
    if unknown:
        raise TypeError(f"unknown loop settings {unknown}; see zoo_core.settings.Loop")
    if save_format not in settings.SAVE_FORMATS:
        raise ZooError(f"--save-format {save_format!r}: choose one of {', '.join(settings.SAVE_FORMATS)}")
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
        return _reopen(resume, model, changes, device, loop)
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
    )
    return config, None, save_format


def train_model(
    model: str | None = None,
    *,
    out: str | Path | None = None,
    quiet: bool = True,
    on_step: Callable[[int], None] | None = None,
    **options: Any,
) -> RunResult:
    """Resolve the config, make (or reopen) the run folder and train: what ``zoo train`` does.

    ``options`` are ``configure``'s: the parts by name, ``sets``, ``device``, ``data_root``,
    ``config_file``, ``save_format``, ``resume`` and the loop's settings (``steps=``, ``lr=`` ...).
    """
    config, run_dir, save_format = configure(model, out=out, **options)
    if run_dir is not None:
        distributed.on_main(reopen_run, run_dir, device=config.device)  # lock, then finish a cut commit
        try:
            if not (run_dir / checkpoint.STATE).exists():
                raise ZooError(
                    f"{run_dir}: no resumable state (config.json and {checkpoint.STATE}) to resume from"
                )
            with failing(run_dir, config.model):  # failed runs marked; a full disk is one line
                return fit(
                    config, run_dir, save_format=save_format, resume=True, quiet=quiet, on_step=on_step
                )
        finally:
            lock.release(run_dir)
    created = out is None or not Path(out).exists()
    run_dir = distributed.on_main(new_run_dir, config.model, out, device=config.device)
    try:
        with failing(run_dir, config.model):  # failed runs marked; a full disk is one line
            return fit(config, run_dir, save_format=save_format, resume=False, quiet=quiet, on_step=on_step)
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
    config = RunConfig.from_dict(saved["config"], str(run_dir / CONFIG))  # read back: validated
    if model is not None:
        wanted = get_zoo().models.get(model).qualname
        if wanted != config.model:
            raise ZooError(f"--resume {run_dir}: that run trained '{config.model}', not '{wanted}'")
    given = [flag for flag, value in changes.items() if value is not None]
    if given:
        raise ZooError(
            f"--resume {run_dir}: {', '.join(given)} would change what was trained so far; resume "
            "without them (--steps, --epochs and --device may change), or start a new run"
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
    save_format = saved.get("save_format", "safetensors")
    if save_format not in settings.SAVE_FORMATS:
        raise ZooError(
            f"{run_dir / CONFIG}: save_format {save_format!r} is not one of {settings.SAVE_FORMATS}"
        )
    return config, run_dir, save_format


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
    *,
    save_format: str = "safetensors",
    resume: bool = False,
    quiet: bool = True,
    on_step: Callable[[int], None] | None = None,
) -> RunResult:
    """Train ``config`` into ``run_dir``: the shared loop.

    Long on purpose (about 120 lines): like nanoGPT's ``train.py``, the loop is one function a
    learner reads top to bottom in three numbered parts (build, loop, finish); what it writes is
    ``Record``'s (record.py) and what it optimizes ``Optimization``'s, so only the order lives here.
    """
    from zoo_core.devices import environment

    started = time.perf_counter()
    loop = config.loop
    dist = distributed.setup(config.device)  # the only process, or one worker of a torchrun job
    device, reason = dist.device, dist.reason
    progress = Progress(0, quiet or not dist.is_main)

    # 1. Build everything (model, data, trainer, optimizers, schedulers, the step), seeded.
    run = assemble(config, device, dist, say=progress.say)
    model, data, trainer, plan, opt = run.parts.model, run.parts.data, run.trainer, run.plan, run.opt
    check_batch(trainer, model, to_device(next(iter(plan.epoch(0))), device))  # data it cannot take
    total, log_every = plan.total_steps, loop.log_every or max(1, plan.total_steps // 200)
    record = Record(run, run_dir, dist, {**environment(device), **dist.describe()}, save_format)
    step = record.restore(device) if resume else 0  # optimizer steps taken
    if step > total:
        raise ZooError(f"the run is at step {step} already; give a --steps or --epochs that goes further")
    record.start(step)

    # 2. The loop: ``accumulate`` micro-batches per optimizer step. Losses stay on the device and
    #    are read only every ``log_every`` steps.
    progress.total = total
    for notice in [
        *run.notices,
        f"training {config.model} on {device} ({reason}); {total} steps -> {run_dir}",
    ]:
        progress.say(notice)
    sums: dict[str, Any] = {}
    count, batch_no, stop = 0, step * loop.accumulate, False  # batch_no: micro-batches so far
    loop_started = time.perf_counter()
    model.train()
    with stop_on_sigint() as interrupt:
        while batch_no < plan.total_batches and not (stop or interrupt["stop"]):
            epoch = batch_no // plan.per_epoch
            for batch in plan.epoch(epoch, start=batch_no % plan.per_epoch):
                if not plan.preloaded:  # preloaded tensors are on the device already
                    batch = to_device(batch, device)
                losses = run.step(model, batch, run.optimizers)
                batch_no += 1
                for key, value in losses.items():
                    sums[key] = sums[key] + value if key in sums else value
                count += 1
                last = batch_no >= plan.total_batches
                if not (opt.end_micro_batch() or last):
                    continue  # the window goes on: no optimizer step yet
                step += 1
                row = None
                evaluate_now = loop.eval_every and step % loop.eval_every == 0 and step < total
                if step % log_every == 0 or step == total or evaluate_now:
                    row = {"step": step, "epoch": epoch + 1}
                    row.update(dist.mean({k: float(v) / count for k, v in sums.items()}))
                    row["lr"] = opt.lr()
                    check_losses(row, stop=loop.stop_on_nan, run_dir=run_dir, say=progress.say)
                    sums, count = {}, 0
                    if evaluate_now:
                        evaluated = trainer.evaluate(model, data, device)
                        row.update(evaluated)
                        model.train()
                        record.evaluated(step, evaluated)
                    record.add(row)
                progress.update(step, row)
                if loop.checkpoint_every and step % loop.checkpoint_every == 0 and step < total:
                    record.save(step)
                if on_step is not None:
                    on_step(step)
                if record.watch is not None and record.watch.out_of_patience:
                    progress.say(record.watch.why_stopped())
                    stop = True
                if last or stop or interrupt["stop"]:
                    break
        compile_seconds = getattr(run.step, "compile_seconds", None)
        loop_seconds = time.perf_counter() - loop_started - (compile_seconds or 0)
        if interrupt["stop"] and step < total:
            progress.close()
            record.save(step)
            if not dist.is_main:
                raise SystemExit(Interrupted.exit_code)  # worker 0 says where the state is
            raise Interrupted(
                f"interrupted at step {step}/{total}; state saved in {run_dir}; "
                f"resume with: zoo train {config.model} --resume {run_dir}"
            )

    # 3. Evaluate, save, draw.
    log = record.log
    metrics = {k: v for k, v in log.rows[-1].items() if k not in _NOT_METRICS} if log.rows else {}
    final = trainer.evaluate(model, data, device)
    metrics.update(final)
    model.train()
    if log.rows:
        log.rows[-1].update(metrics)
    files = record.finish(step, metrics, final)
    if dist.is_main:
        files += draw_figures(trainer, model, data, device, log.rows, run_dir, config.model, progress.say)
    result = RunResult(
        run_dir=run_dir,
        config=config,
        metrics=metrics,
        history=log.rows,
        step=step,
        seconds=time.perf_counter() - started,
        loop_seconds=loop_seconds,
        device=str(device),
        device_reason=reason,
        files=[METRICS, CONFIG, *files, SUMMARY],
        model=model,
        compile_seconds=compile_seconds,
    )
    if dist.is_main:
        mark_status(run_dir, "finished", **result.to_dict(), **record.summary())
    progress.close()
    dist.wait_for_all()
    return result


_NOT_METRICS = ("step", "epoch", "lr")


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
    from zoo_core.figures import loss_curve

    paths = list(step_logic.figures(model, data, device, history, run_dir) or [])
    curve = loss_curve(history, run_dir / "loss.png", title=title)
    return [Path(p).name for p in paths] + ([curve.name] if curve else [])
