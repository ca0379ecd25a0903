"""The shared trainer: the loop around every lesson's step, readable top to bottom.

CLI -> ``train_model`` -> ``fit`` -> run folder. Trainer entries supply only the step (and their
metrics and figures); devices, seeding, batches, logging, checkpoints and resume live here.
"""

from __future__ import annotations

import math
import random
import signal
import sys
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from zoo_core import checkpoint, distributed, lock
from zoo_core.config import RunConfig, build_dataset, resolve
from zoo_core.data import Batches, batch_indices, tensors_of, to_device
from zoo_core.errors import ZooError
from zoo_core.plugins import get_zoo
from zoo_core.runs import (
    CONFIG,
    METRICS,
    SUMMARY,
    check_losses,
    failing,
    find_run,
    new_run_dir,
    read_json,
    reopen_run,
)

SAVE_FORMATS = ("safetensors", "pickle", "both")


class Interrupted(ZooError):
    """Ctrl-C: the state was saved; the message says how to resume."""

    exit_code = 130


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir),
            "model": self.config.model,
            "metrics": self.metrics,
            "step": self.step,
            "seconds": round(self.seconds, 3),
            "steps_per_second": round(self.step / self.loop_seconds, 2) if self.loop_seconds else None,
            "device": self.device,
            "device_reason": self.device_reason,
            "files": self.files,
        }


def seed_everything(seed: int) -> None:
    """One seed for Python's ``random``, numpy and torch (CPU and every GPU)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """Every random generator's state, so a resumed run draws what the original would have."""
    import numpy as np
    import torch

    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(_as_tuple(state["python"]))
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(value: Any) -> Any:
    return tuple(_as_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value


@contextmanager
def stop_on_sigint() -> Any:
    """Turn the first Ctrl-C into a flag the loop checks between steps; a second one aborts."""
    flag = {"stop": False}
    if sys.platform == "win32" or not _main_thread():
        yield flag
        return

    def handler(signum: int, frame: Any) -> None:
        if flag["stop"]:
            raise KeyboardInterrupt
        flag["stop"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


class Progress:
    """A tqdm bar with the live loss on a terminal, plain periodic lines otherwise, or nothing."""

    def __init__(self, total: int, quiet: bool, stream: Any = None) -> None:
        self.total, self.quiet = total, quiet
        self.stream = stream or sys.stdout
        self.bar = None
        self.next_line = 0
        if not quiet and self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="step", dynamic_ncols=True, file=self.stream)

    def say(self, text: str) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, file=self.stream, flush=True)

    def update(self, step: int, row: dict[str, Any] | None) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            if row:  # set_postfix redraws at most every tqdm's mininterval, like update()
                self.bar.set_postfix(
                    {k: f"{v:.4g}" for k, v in row.items() if k not in ("step", "epoch")}, refresh=False
                )
            self.bar.update(step - self.bar.n)
        elif row is not None and (step >= self.next_line or step == self.total):
            shown = " ".join(f"{k}={v:.4g}" for k, v in row.items() if k not in ("step", "epoch"))
            self.say(f"step {step}/{self.total} epoch {row['epoch']} {shown}")
            self.next_line = step + max(1, self.total // 10)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def train_model(
    model: str | None = None,
    *,
    dataset: str | None = None,
    optimizer: str | None = None,
    trainer: str | None = None,
    epochs: int | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    seed: int | None = None,
    sets: Iterable[str] = (),
    device: str | None = None,
    out: str | Path | None = None,
    data_root: str | None = None,
    save_format: str = "safetensors",
    resume: str | Path | None = None,
    quiet: bool = True,
    on_step: Callable[[int], None] | None = None,
) -> RunResult:
    """Resolve the config, make (or reopen) the run folder and train: what ``zoo train`` does."""
    if save_format not in SAVE_FORMATS:
        raise ZooError(f"--save-format {save_format!r}: choose one of {', '.join(SAVE_FORMATS)}")
    if resume is not None:
        run_dir = find_run(resume)
        saved = read_json(run_dir / CONFIG)
        if not isinstance(saved, dict) or "config" not in saved:
            raise ZooError(
                f"{run_dir}: no resumable state (config.json and {checkpoint.STATE}) to resume from"
            )
        config = RunConfig.from_dict(saved["config"], str(run_dir / CONFIG))  # [integrity] validated
        if model is not None:
            wanted = get_zoo().registries["model"].get(model).qualname
            if wanted != config.model:
                raise ZooError(f"--resume {run_dir}: that run trained '{config.model}', not '{wanted}'")
        if device is not None:
            config.device = device
        save_format = saved.get("save_format", save_format)
        if save_format not in SAVE_FORMATS:  # [integrity]
            raise ZooError(f"{run_dir / CONFIG}: save_format {save_format!r} is not one of {SAVE_FORMATS}")
        distributed.on_main(reopen_run, run_dir, device=config.device)  # [integrity] lock + recover
        try:
            if not (run_dir / checkpoint.STATE).exists():
                raise ZooError(
                    f"{run_dir}: no resumable state (config.json and {checkpoint.STATE}) to resume from"
                )
            with failing(run_dir, config.model):  # [integrity] failed runs marked; a full disk is one line
                return fit(
                    config, run_dir, save_format=save_format, resume=True, quiet=quiet, on_step=on_step
                )
        finally:
            lock.release(run_dir)  # [integrity]
    if model is None:
        raise ZooError("name a model to train (see 'zoo list models')")
    loop = {"epochs": epochs, "steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed}
    config = resolve(
        model,
        dataset=dataset,
        optimizer=optimizer,
        trainer=trainer,
        loop=loop,
        sets=sets,
        device=device or "auto",
        data_root=data_root,
    )
    created = out is None or not Path(out).exists()
    run_dir = distributed.on_main(new_run_dir, config.model, out, device=config.device)
    try:
        with failing(run_dir, config.model):  # [integrity] failed runs marked; a full disk is one line
            return fit(config, run_dir, save_format=save_format, resume=False, quiet=quiet, on_step=on_step)
    except BaseException:
        _discard_if_unstarted(run_dir, created)
        raise
    finally:
        lock.release(run_dir)  # [integrity]


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
    """Train ``config`` into ``run_dir``: the shared loop."""
    import torch

    from zoo_core.devices import environment

    started = time.perf_counter()
    registries = get_zoo().registries
    loop = config.loop
    dist = distributed.setup(config.device)  # the only process, or one worker of a torchrun job
    device, reason = dist.device, dist.reason

    # 1. Build everything from the registries, seeded.
    seed_everything(loop["seed"])
    model_entry = registries["model"].get(config.model)
    model = model_entry.create(**config.model_params).to(device)
    data = dist.local_first(build_dataset)(  # one download per machine, not one per worker
        registries["dataset"].get(config.dataset),
        config.dataset_params,
        seed=loop["seed"],
        data_root=config.data_root,
    )
    step_logic = registries["trainer"].get(config.trainer).create(**config.trainer_params)
    step_logic = dist.data_parallel(step_logic, config.trainer)

    def make_optimizer(
        params: Any, name: str | None = None, lr: float | None = None, **overrides: Any
    ) -> Any:
        entry = registries["optimizer"].get(name or config.optimizer)
        settings = {**(config.optimizer_params if name is None else {}), **overrides}
        # [integrity] entry.call: a factory's failure is one line naming the entry and settings
        return entry.call(params, lr=loop["lr"] if lr is None else lr, **entry.params(settings))

    optimizers = step_logic.configure_optimizers(model, make_optimizer)

    # 2. Batches: preloaded tensors are moved to the device once and sliced by index.
    train_set = data.train
    tensors = tensors_of(train_set)
    if tensors is not None and device.type != "cpu":
        train_set = torch.utils.data.TensorDataset(*(t.to(device) for t in tensors))
    batches = Batches(train_set, workers=loop["workers"], seed=loop["seed"])
    n = len(batches)
    if n == 0:
        raise ZooError(f"dataset '{config.dataset}' has no training samples")
    size = loop["batch_size"] or n
    per_epoch = n // size if loop["drop_last"] else math.ceil(n / size)
    per_epoch = dist.steps_per_epoch(n, loop, per_epoch)
    if per_epoch == 0:
        raise ZooError(f"batch_size {size} is larger than the {n} training samples with drop_last set")
    total = loop["steps"] or loop["epochs"] * per_epoch
    log_every = loop["log_every"] or max(1, total // 200)

    # 3. The run folder: config first, so even an interrupted run can be repeated or resumed.
    env = {**environment(device), **dist.describe()}
    log = dist.metrics_log(run_dir / METRICS)  # only worker 0 writes the run folder
    step = 0
    if resume:
        # [integrity] one checked commit: weights and state from the same save, state validated
        state = checkpoint.load_checkpoint(run_dir, model, optimizers, device=device)
        with checkpoint.restoring(run_dir / checkpoint.STATE):  # [integrity] a misfit is one line
            for name, opt in optimizers.items():
                opt.load_state_dict(state["optimizers"][name])
            step_logic.load_state_dict(to_device(state.get("trainer", {}), device))
            set_rng_state(state["rng"])
        step = int(state["step"])
        log.rows = list(state.get("history", []))
    if dist.is_main:
        checkpoint.write_json(
            run_dir / CONFIG,
            {
                "config": config.to_dict(),
                "environment": env,
                "save_format": save_format,
                "plugin": {
                    "name": model_entry.plugin,
                    "distribution": model_entry.distribution,
                    "version": model_entry.version,
                },
            },
        )

    def save(final: bool) -> list[str]:
        """Weights (and the training state) as they are after ``step`` steps."""
        if not dist.is_main:
            return []
        files = []
        meta = {
            "zoo.model": config.model,
            "zoo.plugin": model_entry.plugin,
            "zoo.config": config.to_dict(),
            "zoo.metrics": metrics if final else {},
            "zoo.versions": env,
            "zoo.step": step,
        }
        was_training = model.training
        state = {
            "step": step,
            "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
            "trainer": step_logic.state_dict(),
            "rng": rng_state(),
            "history": log.rows,
        }
        # [integrity] weights (+ pickle) and state as one commit
        files += checkpoint.save_checkpoint(
            run_dir, model, metadata=meta, state=state, save_format=save_format, finite=loop["stop_on_nan"]
        )
        model.train(was_training)
        log.flush()
        return files

    # 4. The loop. Losses stay on the device and are read only every ``log_every`` steps.
    metrics: dict[str, float] = {}
    progress = Progress(total, quiet or not dist.is_main)
    progress.say(f"training {config.model} on {device} ({reason}); {total} steps -> {run_dir}")
    from zoo_core.graphs import wrap_step  # on CUDA, a capturable step is replayed as a CUDA graph

    run_step = wrap_step(step_logic, device, loop, preloaded=tensors is not None, say=progress.say)
    sums: dict[str, Any] = {}
    count = 0
    loop_started = time.perf_counter()
    model.train()
    with stop_on_sigint() as interrupt:
        while step < total and not interrupt["stop"]:
            epoch = step // per_epoch
            if loop["batch_size"] is None and tensors is not None and not dist.active:
                epoch_batches: Iterable[Any] = [tuple(train_set.tensors)]  # full batch, as is
            else:
                order = batch_indices(
                    n,
                    dist.local_batch(loop["batch_size"]),
                    seed=loop["seed"],
                    epoch=epoch,
                    shuffle=loop["shuffle"],
                    drop_last=loop["drop_last"],
                    rank=dist.rank,
                    world=dist.world,
                    device=train_set.tensors[0].device if tensors is not None else None,
                )
                epoch_batches = batches.epoch(order, start=step % per_epoch)
            for batch in epoch_batches:
                if tensors is None:  # preloaded tensors are on the device already
                    batch = to_device(batch, device)
                losses = run_step(model, batch, optimizers)
                step += 1
                for key, value in losses.items():
                    sums[key] = sums[key] + value if key in sums else value
                count += 1
                row = None
                evaluate_now = loop["eval_every"] and step % loop["eval_every"] == 0 and step < total
                if step % log_every == 0 or step == total or evaluate_now:
                    row = {"step": step, "epoch": epoch + 1}
                    row.update(dist.mean({k: float(v) / count for k, v in sums.items()}))
                    check_losses(
                        row, stop=loop["stop_on_nan"], run_dir=run_dir, say=progress.say
                    )  # [integrity]
                    sums, count = {}, 0
                    if evaluate_now:
                        row.update(step_logic.evaluate(model, data, device))
                        model.train()
                    log.add(row)
                progress.update(step, row)
                if loop["checkpoint_every"] and step % loop["checkpoint_every"] == 0 and step < total:
                    save(final=False)
                if on_step is not None:
                    on_step(step)
                if step >= total or interrupt["stop"]:
                    break
        loop_seconds = time.perf_counter() - loop_started
        if interrupt["stop"] and step < total:
            progress.close()
            save(final=False)
            if not dist.is_main:
                raise SystemExit(Interrupted.exit_code)  # worker 0 says where the state is
            raise Interrupted(
                f"interrupted at step {step}/{total}; state saved in {run_dir}; "
                f"resume with: zoo train {config.model} --resume {run_dir}"
            )

    # 5. Evaluate, save, draw.
    metrics = {k: v for k, v in log.rows[-1].items() if k not in ("step", "epoch")} if log.rows else {}
    metrics.update(step_logic.evaluate(model, data, device))
    model.train()
    if log.rows:
        log.rows[-1].update(metrics)
    files = save(final=True)
    files += (
        draw_figures(step_logic, model, data, device, log.rows, run_dir, config.model, progress.say)
        if dist.is_main
        else []
    )
    files = [METRICS, CONFIG] + files + [SUMMARY]
    seconds = time.perf_counter() - started
    result = RunResult(
        run_dir=run_dir,
        config=config,
        metrics=metrics,
        history=log.rows,
        step=step,
        seconds=seconds,
        loop_seconds=loop_seconds,
        device=str(device),
        device_reason=reason,
        files=files,
        model=model,
    )
    if dist.is_main:
        checkpoint.write_json(run_dir / SUMMARY, {**result.to_dict(), "status": "finished"})
    progress.close()
    dist.wait_for_all()
    return result


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


def evaluate_run(
    run: str | Path, device: str = "auto", data_root: str | None = None, trust_pickle: bool = False
) -> dict[str, Any]:
    """Rebuild a run's model (from ``model.safetensors``; a pickle only when trusted) and evaluate it."""
    from zoo_core.devices import pick_device

    path = find_run(run)
    run_dir = path if path.is_dir() else path.parent
    pickled = path.suffix == ".pt" or (
        path.is_dir() and not (path / checkpoint.WEIGHTS).exists() and (path / checkpoint.PICKLE).exists()
    )
    dev, _ = pick_device(device)
    if pickled:
        source = path if path.is_file() else path / checkpoint.PICKLE
        model = checkpoint.load_pickle(source, trust=trust_pickle, device=str(dev))
        saved = read_json(run_dir / CONFIG).get("config")
        if not saved:
            raise ZooError(f"{source}: no config.json beside it, so the lesson's data are unknown")
        config, saved_metrics = RunConfig.from_dict(saved, str(run_dir / CONFIG)), {}  # [integrity]
    else:
        source = path / checkpoint.WEIGHTS if path.is_dir() else path
        meta = checkpoint.read_metadata(source)
        if not isinstance(meta.get("zoo.config"), dict):
            raise ZooError(f"{source}: has no zoo metadata; only files saved by zoo can be evaluated")
        # [integrity] metadata is untrusted: validated like user input
        config = RunConfig.from_dict(meta["zoo.config"], f"{source} (metadata zoo.config)")
        saved_metrics = checkpoint.saved_metrics(meta, source)
        model = checkpoint.load_model(source, device=str(dev))
    registries = get_zoo().registries
    data = build_dataset(
        registries["dataset"].get(config.dataset),
        config.dataset_params,
        seed=config.loop["seed"],
        data_root=data_root,  # [integrity] a path read from a file is never used
    )
    step_logic = registries["trainer"].get(config.trainer).create(**config.trainer_params)
    metrics = step_logic.evaluate(model.to(dev).eval(), data, dev)
    return {
        "source": str(source),
        "model": config.model,
        "device": str(dev),
        "metrics": metrics,
        "saved_metrics": saved_metrics,
    }
