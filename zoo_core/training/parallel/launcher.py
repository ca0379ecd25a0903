"""Start a data-parallel run: ``zoo train NAME --nproc N`` under ``torch.distributed.run``.

The launcher resolves and checks the run once (what every worker would refuse is said here, in
one line), makes the run folder, then runs the user's own ``zoo train`` arguments, less
``--nproc``, in N workers through PyTorch's ``torch.distributed.run`` in this process. A worker
that dies, or stops answering, ends the job with one line naming it and where the last
checkpoint is. What a worker does at run time is ``zoo_core.training.parallel.worker``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from zoo_core.plugin.errors import ZooError, debugging
from zoo_core.training.parallel.worker import (
    DEFAULT_TIMEOUT,
    PEER_LOST,
    TIMED_OUT,
    not_data_parallel,
    refuse_mps,
    uneven_batch,
)


class WorkerFailed(ZooError):
    """A worker of a multi-process run died; the exit code says how (see :func:`launch`)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# -- the launcher: zoo train NAME --nproc N ----------------------------------------------------
def _check_config(config: Any, nproc: int) -> None:
    """What every worker would refuse, found once before any starts."""
    from zoo_core.plugin.discovery import get_zoo
    from zoo_core.training.devices import pick_device

    factory = get_zoo().trainers.get(config.trainer).load()
    if not getattr(factory, "data_parallel", True):
        raise ZooError(not_data_parallel(config.trainer, getattr(factory, "__name__", "trainer")))
    batch_size = config.loop.batch_size
    if batch_size is not None and batch_size % nproc:
        raise ZooError(uneven_batch(batch_size, nproc))
    request = (config.device or "auto").strip().lower()
    refuse_mps(request)
    if request.startswith("cuda"):
        pick_device(request)
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if request in ("auto", "cuda") and gpus and nproc > gpus:
        raise ZooError(
            f"--nproc {nproc}: this machine has {gpus} GPU(s), one per worker; "
            f"use --nproc {gpus} or less, or --device cpu"
        )


@contextlib.contextmanager
def _quiet_agent() -> Iterator[None]:
    """Keep torchrun's agent from logging over zoo's own messages; restore its signal handlers."""
    handled = [signal.SIGTERM, signal.SIGINT] + [
        getattr(signal, s) for s in ("SIGHUP", "SIGQUIT") if hasattr(signal, s)
    ]
    handlers = {s: signal.getsignal(s) for s in handled}
    disabled = logging.root.manager.disable
    if not debugging():
        logging.disable(logging.ERROR)  # the agent's warnings and errors; zoo says what happened
    try:
        yield
    finally:
        logging.disable(disabled)
        for s, handler in handlers.items():
            with contextlib.suppress(ValueError, TypeError):  # not the main thread
                signal.signal(s, handler)


def _death(exitcode: int) -> tuple[str, int]:
    """How a worker ended, in words, and the exit code the run ends with."""
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"was killed by {name}", 128 - exitcode
    if exitcode == ZooError.exit_code:
        return "stopped on the error above (exit code 2)", exitcode
    return f"died (exit code {exitcode})", exitcode or 1


def _root_failure(exc: Any) -> tuple[int, Any]:
    """The worker that failed first: not one that only lost its peers or was stopped by the agent."""
    secondary = (PEER_LOST, -int(signal.SIGTERM))
    first = [(r, f) for r, f in exc.failures.items() if f.exitcode not in secondary]
    if not first:
        return exc.get_first_failure()
    return min(first, key=lambda item: item[1].timestamp)


def _where_to_resume(run_dir: Path, model: str, nproc: int) -> str:
    from zoo_core.store import checkpoint

    if not (run_dir / checkpoint.STATE).exists() or not (run_dir / checkpoint.WEIGHTS).exists():
        return (
            f"no checkpoint was written yet in {run_dir} "
            "(--set checkpoint_every=STEPS saves one every STEPS steps)"
        )
    try:
        step = checkpoint.read_metadata(run_dir / checkpoint.WEIGHTS).get("zoo.step", "?")
    except ZooError:
        step = "?"
    return (
        f"the last checkpoint (step {step}) in {run_dir} is intact; resume with: "
        f"zoo train {model} --resume {run_dir} --nproc {nproc}"
    )


def worker_args(args: Sequence[str], out: Path | None) -> list[str]:
    """The command line the user typed after ``zoo train``, without ``--nproc`` (and with the run
    folder the launcher made, for a new run): what every worker runs."""
    words: list[str] = []
    skip = {"--nproc"} | ({"--out"} if out is not None else set())
    items = iter(args)
    for word in items:
        name = word.partition("=")[0]
        if name in skip:
            if "=" not in word:
                next(items, None)  # its value
            continue
        words.append(word)
    return words + (["--out", str(out)] if out is not None else [])


def launch(args: Sequence[str], nproc: int, options: Mapping[str, Any], timeout: int | None = None) -> None:
    """``zoo train ... --nproc N``: resolve and check the run once, then start N workers.

    ``args`` are the words after ``zoo train``; ``options`` what they mean (``train_model``'s
    keywords). Worker 0 prints the usual progress and summary. When a worker dies, torchrun's agent
    stops the others; this raises :class:`WorkerFailed` with one line saying which worker died and
    where the last checkpoint is (a checkpoint is one commit, so it is whole).
    """
    from zoo_core.store import lock
    from zoo_core.store.runs import new_run_dir
    from zoo_core.training.loop import configure
    from zoo_core.training.parallel.worker import launched

    if launched():
        raise ZooError("--nproc: this process is already a worker of a torchrun job; drop --nproc")
    config, resumed = configure(**options)  # what every worker would resolve, refused here once
    _check_config(config, nproc)
    if resumed is not None:
        run_dir, out = resumed.resolve(), None
    else:
        run_dir = out = new_run_dir(config.model, options.get("out")).resolve()
        lock.release(run_dir)  # worker 0 takes the folder; the launcher only made it
    words = ["--standalone", "--nproc-per-node", str(nproc), "-m", "zoo_core", "train"]
    run([*words, *worker_args(args, out)], run_dir, config.model, nproc, timeout or DEFAULT_TIMEOUT)


def run(
    torchrun_args: list[str], run_dir: Path, model: str, nproc: int, timeout: int = DEFAULT_TIMEOUT
) -> None:
    """``torchrun`` with ``torchrun_args``, in this process; a failure becomes one clear error."""
    import torch.distributed.run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    threads = os.environ.get("OMP_NUM_THREADS")
    if threads is None:  # torchrun would warn and use 1; share the cores out instead
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // nproc))
    sys.stdout.flush()
    try:
        with _quiet_agent():
            torchrun.run(torchrun.parse_args(torchrun_args))
    except ChildFailedError as exc:
        waited = {r for r, f in exc.failures.items() if f.exitcode == TIMED_OUT}
        if waited:
            silent = sorted(set(range(nproc)) - waited) or sorted(waited)
            who = ", ".join(map(str, silent))
            raise WorkerFailed(
                f"worker {who} stopped answering: no reply within the {timeout} s --timeout; "
                f"all {nproc} workers were stopped; {_where_to_resume(run_dir, model, nproc)}",
                TIMED_OUT,
            ) from None
        rank, failure = _root_failure(exc)
        how, code = _death(failure.exitcode)
        where = _where_to_resume(run_dir, model, nproc)
        if code == ZooError.exit_code and where.startswith("no checkpoint"):
            where = f"the run folder is {run_dir}"  # it stopped before training: nothing to resume
        raise WorkerFailed(f"worker {rank} {how}; all {nproc} workers were stopped; {where}", code) from None
    except SignalException as exc:
        name = getattr(exc.sigval, "name", str(exc.sigval))
        raise WorkerFailed(
            f"stopped by {name}; all {nproc} workers were stopped; "
            + _where_to_resume(run_dir, model, nproc),
            128 + int(exc.sigval),
        ) from None
    finally:
        if threads is None:
            os.environ.pop("OMP_NUM_THREADS", None)
