"""A trainer made data-parallel: what one worker of a job runs in place of the trainer entry.

:func:`data_parallel` wraps the trainer in :class:`DataParallel` when the run is
one worker of a job; in a single process the trainer runs as it is.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo_core.training.parallel.worker import DEBUG_WEIGHTS_ENV, Context, not_data_parallel, peers

if TYPE_CHECKING:
    import torch


def ddp_class() -> type:
    """DistributedDataParallel that still answers for the model's own attributes (built on first use)."""
    from torch.nn.parallel import DistributedDataParallel

    class ZooDDP(DistributedDataParallel):
        """DDP that also answers for the model's own attributes and items (``model.n_ideas``)."""

        def __getattr__(self, name: str) -> Any:
            try:
                return super().__getattr__(name)
            except AttributeError:
                if name == "module":  # not set yet, during DDP's own __init__
                    raise
                return getattr(self.module, name)

        def __getitem__(self, key: Any) -> Any:  # model["generator"], model[0]
            return self.module[key]

    return ZooDDP


class DataParallel:
    """A trainer entry run by one worker of a job: the entry's methods, made data-parallel.

    - ``configure_optimizers`` also wraps the model in ``DistributedDataParallel``; ``step``
      gets the wrapper, so ``loss.backward()`` averages the gradients over the workers. A step
      that never calls the wrapper (it calls parts of the model, ``model.generator(z)``) would
      leave the gradients unaveraged: it stops the run with an error instead.
    - A manual trainer (``manual = True``) is not wrapped: it steps through the run's
      ``Optimization``, whose ``step(name)`` averages that optimizer's gradients over the workers
      first, however the step calls the model's parts.
    - ``evaluate`` first copies worker 0's buffers (BatchNorm statistics) to every worker, then
      averages the metrics over the workers; ``figures`` are drawn by worker 0 only.
    Everything else (``state_dict``, the entry's own attributes) is the entry's.
    """

    capturable = False  # a DDP step is not captured as a graph
    opt: Any = None  # the run's Optimization, set by the assembly

    def __init__(self, trainer: Any, ctx: Context, name: str) -> None:
        self.trainer = trainer
        self.ctx = ctx
        self.name = name
        self.ddp: Any = None
        self.forwards = 0

    def __getattr__(self, name: str) -> Any:
        if name == "trainer":  # not set yet (a copy being made)
            raise AttributeError(name)
        return getattr(self.trainer, name)

    def configure_optimizers(self, model: torch.nn.Module, make_optimizer: Any) -> dict[str, Any]:
        optimizers = self.trainer.configure_optimizers(model, make_optimizer)
        if getattr(self.trainer, "manual", False):
            return optimizers  # it steps through the Optimization, which averages the gradients
        if any(p.requires_grad for p in model.parameters()):
            cuda = self.ctx.device.type == "cuda"
            self.ddp = ddp_class()(model, device_ids=[self.ctx.device.index] if cuda else None)
            self.ddp.register_forward_pre_hook(self._count)
        return optimizers

    def _count(self, module: Any, args: Any) -> None:
        self.forwards += 1

    def step(self, model: torch.nn.Module, batch: Any, optimizers: Any) -> dict[str, Any]:
        if getattr(self.trainer, "manual", False):
            return self.trainer.step(model, batch, optimizers)
        return self._through_ddp(self.trainer.step, model, batch, optimizers)

    def _through_ddp(self, method: Any, model: torch.nn.Module, *args: Any) -> dict[str, Any]:
        """``method`` given the DDP wrapper; inside an accumulation window, without gradient sync."""
        if self.ddp is None:  # nothing to train: no gradients to average
            return method(model, *args)
        self.forwards = 0
        last = self.opt is None or self.opt.last_micro_batch
        with peers(), contextlib.nullcontext() if last else self.ddp.no_sync():
            losses = method(self.ddp, *args)
        if not self.forwards:
            self.ctx.fail(
                f"trainer '{self.name}' cannot run data-parallel: its step calls parts of the model "
                "instead of the model itself, so the workers' gradients would not be averaged; train "
                "it in one process (or set data_parallel = False on the trainer class)"
            )
        return losses

    def evaluate(self, model: torch.nn.Module, data: Any, device: Any) -> dict[str, float]:
        import torch.distributed as tdist

        with peers():
            for buffer in model.buffers():
                tdist.broadcast(buffer, src=0)
        folder = os.environ.get(DEBUG_WEIGHTS_ENV)
        if folder:
            from zoo_core.store.checkpoint import save_weights

            Path(folder).mkdir(parents=True, exist_ok=True)
            save_weights(
                model, Path(folder) / f"rank{self.ctx.rank}.safetensors", {"zoo.rank": self.ctx.rank}
            )
        return self.ctx.mean(self.trainer.evaluate(model, data, device))

    def figures(self, *args: Any, **kwargs: Any) -> Any:
        return self.trainer.figures(*args, **kwargs) if self.ctx.is_main else []


def data_parallel(dist: Context, trainer: Any, name: str) -> Any:
    """``trainer`` made data-parallel for the job ``dist`` (see :class:`DataParallel`); as is in a single process."""
    if not dist.active:
        return trainer
    if not getattr(trainer, "data_parallel", True):
        dist.fail(not_data_parallel(name, type(trainer).__name__))
    return DataParallel(trainer, dist, name)
