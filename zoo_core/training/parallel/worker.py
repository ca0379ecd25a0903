"""Training on several processes or machines, on PyTorch's own distributed engine.

This module is what a worker does at run time; ``zoo_core.training.parallel.launcher`` starts the workers
(``zoo train NAME --nproc N`` hands the command to ``torch.distributed.run``, the engine behind
``torchrun``; on several machines ``torchrun`` itself starts them, see docs/distributed.md).
zoo adds no communication code of its own. Each worker finds torchrun's variables (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) and the shared trainer then:

- joins the process group: gloo on CPUs, nccl on GPUs with ``cuda:LOCAL_RANK`` per worker;
- wraps the model in ``DistributedDataParallel`` (the step sees the wrapper; checkpoints,
  evaluation and figures see the model itself, so saved weights have no ``module.`` prefix);
- gives every worker its shard of each global batch (``batch_indices(rank=, world=)``): the
  ``--batch-size`` is the global batch, split evenly, so N workers take the steps one process
  would take with the same batch size;
- averages the logged losses and the evaluation metrics over the workers (``all_reduce``);
- lets only worker 0 write the run folder (config, metrics, checkpoints, figures, summary).
"""

from __future__ import annotations

import atexit
import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from zoo_core.plugin.errors import ZooError, debugging
from zoo_core.store.runs import MetricsLog
from zoo_core.training.parallel.job import launched

if TYPE_CHECKING:
    from zoo_core.config.settings import Loop

#: ``ZOO_DEBUG_RANK_WEIGHTS=DIR``: every worker writes its copy of the weights to DIR/rankN.safetensors
#: whenever the run evaluates (the last copy is the final model), to check that the copies agree.
DEBUG_WEIGHTS_ENV = "ZOO_DEBUG_RANK_WEIGHTS"
#: The exit code of a worker that stops because another one died (the launcher reports the other).
PEER_LOST = 3
#: The exit code of a worker (and of the job) when a peer did not answer within the collective timeout.
TIMED_OUT = 124
#: Seconds a collective waits for every worker before the job ends (``zoo train --timeout``).
DEFAULT_TIMEOUT = 600
_PEER_LOST_WORDS = (
    "by peer",  # gloo: "Connection closed by peer", "Connection reset by peer"
    "Broken pipe",
    "remote process exited",  # nccl
    "communicator was aborted",
)


def _peer_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says that another worker of the job is gone."""
    import torch.distributed as tdist

    return isinstance(exc, tdist.DistError) or _timed_out(exc) or any(w in str(exc) for w in _PEER_LOST_WORDS)


def _timed_out(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "timed out" in text or "timeout" in text


@contextlib.contextmanager
def peers() -> Iterator[None]:
    """Around collectives: when another worker died or went silent, leave quietly (the launcher
    names it)."""
    try:
        yield
    except Exception as exc:
        if debugging() or not _peer_lost(exc):
            raise
        raise SystemExit(TIMED_OUT if _timed_out(exc) else PEER_LOST) from None


# -- one worker's view of the job -----------------------------------------------------------------
@attrs.define
class Context:
    """Where this process stands: the only one (``active`` False), or worker ``rank`` of ``world``."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    backend: str | None = None  # "gloo" or "nccl" once the process group is up
    device: Any = None
    reason: str = ""

    @property
    def active(self) -> bool:
        return self.backend is not None

    @property
    def is_main(self) -> bool:
        """Worker 0, the one that writes the run folder and prints (or the only process)."""
        return self.rank == 0

    def describe(self) -> dict[str, Any]:
        """What ``config.json`` records about the job ({} for a single process)."""
        if not self.active:
            return {}
        return {"distributed": {"world": self.world, "backend": self.backend}}

    def fail(self, message: str) -> None:
        """A problem every worker finds alike: worker 0 reports it, the others leave quietly."""
        if self.is_main:
            raise ZooError(message)
        raise SystemExit(ZooError.exit_code)

    # -- data ---------------------------------------------------------------------------------
    def local_batch(self, batch_size: int | None) -> int | None:
        """This worker's share of the global ``batch_size`` (None, the full batch, stays None)."""
        if batch_size is None or not self.active:
            return batch_size
        if batch_size % self.world:
            self.fail(uneven_batch(batch_size, self.world))
        return batch_size // self.world

    def steps_per_epoch(self, n: int, loop: Loop, single: int) -> int:
        """Steps in one epoch: ``single`` for one process, else the length of this worker's shard."""
        if not self.active:
            return single
        from zoo_core.plugin.data import batch_indices

        shard = batch_indices(
            n,
            self.local_batch(loop.batch_size),
            seed=loop.seed,
            epoch=0,
            shuffle=False,
            drop_last=loop.drop_last,
            rank=self.rank,
            world=self.world,
        )
        return len(shard)

    # -- communication ------------------------------------------------------------------------
    def local_first(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` run by each machine's first worker before the others (who then find its files)."""
        if not self.active:
            return fn

        def first_here_then_the_others(*args: Any, **kwargs: Any) -> Any:
            import torch.distributed as tdist

            if self.local_rank == 0:
                result = fn(*args, **kwargs)
            with peers():
                tdist.barrier()
            return result if self.local_rank == 0 else fn(*args, **kwargs)

        return first_here_then_the_others

    def wait_for_all(self) -> None:
        """Every worker leaves training together: none closes its connections while worker 0
        still saves and draws (gloo aborts a process whose peer hangs up mid-teardown)."""
        if not self.active:
            return
        import torch.distributed as tdist

        with peers():
            tdist.barrier()

    def mean(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The numbers of ``values`` averaged over the workers (one ``all_reduce``); others kept."""
        out = dict(values)
        if not self.active:
            return out
        import torch
        import torch.distributed as tdist

        keys = sorted(k for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
        if not keys:
            return out
        total = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=self.device)
        with peers():
            tdist.all_reduce(total, op=tdist.ReduceOp.SUM)
        out.update(zip(keys, (total / self.world).tolist(), strict=True))
        return out

    def average_gradients(self, params: list[Any]) -> None:
        """Every worker's gradients of ``params`` replaced by their mean (a manual trainer's step)."""
        import torch.distributed as tdist

        grads = [p.grad for p in params if p.grad is not None]
        with peers():
            for grad in grads:
                tdist.all_reduce(grad, op=tdist.ReduceOp.SUM)
                grad.div_(self.world)

    def metrics_log(self, path: Path) -> MetricsLog:
        """The run's metrics log; on workers other than 0 it keeps rows but never writes."""
        return MetricsLog(path) if self.is_main else _UnwrittenLog(path)


def refuse_mps(request: str) -> None:
    """A job's workers talk through gloo (CPUs) or nccl (CUDA): there is no backend for mps."""
    if request == "mps":
        raise ZooError("--device mps: data-parallel training runs on CPUs (gloo) or CUDA GPUs (nccl)")


def uneven_batch(batch_size: int, world: int) -> str:
    """Why a global batch cannot be split over the workers (the launcher checks it first, too)."""
    return (
        f"--batch-size {batch_size} is the global batch and must split evenly over the {world} "
        f"workers; use a multiple of {world}"
    )


def not_data_parallel(name: str, cls: str) -> str:
    """Why a trainer that says ``data_parallel = False`` cannot run in a job."""
    return (
        f"trainer '{name}' cannot run data-parallel ({cls}.data_parallel is False); "
        "train it in one process, without --nproc or torchrun"
    )


class _UnwrittenLog(MetricsLog):
    """The metrics rows of a worker that is not worker 0: the same rows, never written."""

    def flush(self) -> None:
        pass


def is_main() -> bool:
    """True in worker 0 of a job, and in a process training on its own (read from torchrun's environment)."""
    return not launched() or os.environ["RANK"] == "0"


def setup(device_request: str | None = "auto", timeout: int | None = None) -> Context:
    """The device this process trains on; in a torchrun worker, join the job's process group first.

    A single process gets :func:`zoo_core.training.devices.pick_device`'s choice. A worker takes
    ``cuda:LOCAL_RANK`` (nccl) when the request is ``auto`` with GPUs present, or ``cuda``, and the
    CPU (gloo) otherwise; its collectives wait ``timeout`` seconds (``--timeout``) for a silent
    worker before the job ends. Made once per run and passed to what needs it.
    """
    from zoo_core.training.devices import pick_device

    if not launched():
        device, reason = pick_device(device_request or "auto")
        return Context(device=device, reason=reason)
    import torch
    import torch.distributed as tdist

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ["LOCAL_RANK"])
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    request = (device_request or "auto").strip().lower()
    refuse_mps(request)
    use_cuda = request.startswith("cuda") or (request == "auto" and torch.cuda.is_available())
    if use_cuda:
        pick_device(request if request != "auto" else "cuda")  # a clear error when CUDA is missing
        index = local_rank
        if ":" in request:
            asked = int(request.partition(":")[2])
            if local_world > 1 and asked != local_rank:
                raise ZooError(
                    f"--device {request}: with {local_world} workers on a machine each takes "
                    "cuda:LOCAL_RANK; pass --device cuda and choose the GPUs with CUDA_VISIBLE_DEVICES"
                )
            index = asked
        count = torch.cuda.device_count()
        if index >= count:
            raise ZooError(
                f"worker {rank} needs cuda:{index} but this machine has {count} GPU(s); "
                f"start at most {count} worker(s) per machine"
            )
        device = torch.device("cuda", index)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    if not tdist.is_initialized():
        from datetime import timedelta

        wait = timedelta(seconds=timeout or DEFAULT_TIMEOUT)  # a silent worker ends the job, not hangs it
        if backend == "nccl":
            tdist.init_process_group(backend, device_id=device, timeout=wait)
        else:
            tdist.init_process_group(backend, timeout=wait)
        atexit.register(teardown)
    return Context(
        rank=rank,
        world=world,
        local_rank=local_rank,
        backend=backend,
        device=device,
        reason=f"worker {rank} of {world}, {backend}",
    )


def teardown() -> None:
    """Leave the process group (at exit, or when a test is done with it)."""
    with contextlib.suppress(Exception):
        import torch.distributed as tdist

        if tdist.is_available() and tdist.is_initialized():
            tdist.destroy_process_group()


def on_main(ctx: Context, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` run by worker 0 alone, its result sent to every worker (e.g. the run folder).

    A :class:`ZooError` in worker 0 is raised there; the other workers exit quietly with its code.
    """
    if not ctx.active:
        return fn(*args)
    import torch.distributed as tdist

    box: list[Any] = [None]
    error: ZooError | None = None
    if ctx.is_main:
        try:
            box = [("ok", fn(*args))]
        except ZooError as exc:
            error, box = exc, [("error", exc.exit_code)]
    with peers():
        tdist.broadcast_object_list(box, src=0, device=ctx.device)
    if error is not None:
        raise error
    status, value = box[0]
    if status == "error":
        raise SystemExit(value)
    return value


__all__ = ["Context", "is_main", "launched", "on_main", "setup", "teardown"]
