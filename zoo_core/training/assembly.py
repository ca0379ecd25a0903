"""Build a run from its config: model, data, trainer, optimizers, schedulers, precision and step.

The one place that turns a ``RunConfig`` into live objects. ``zoo train`` (the loop in
``training.py``), ``zoo eval``, ``zoo check`` and ``zoo compare-formats`` all build through it,
so what is checked is what trains.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from zoo_core.config.resolver import apply_implied, build_dataset
from zoo_core.config.runconfig import RunConfig, make_scheduler
from zoo_core.plugin.discovery import get_zoo
from zoo_core.plugin.errors import ZooError, first_line
from zoo_core.plugin.registry import Entry
from zoo_core.plugin.trainer import Trainer
from zoo_core.training.parallel.trainer import data_parallel

Step = Callable[[Any, Any, Mapping[str, Any]], Mapping[str, Any]]


# what only the loop can do for a trainer: refused for a trainer that steps its optimizers itself
@attrs.define
class Parts:
    """The registry entries of a run, built: what evaluation needs too."""

    config: RunConfig
    model_entry: Entry
    model: Any
    data: Any
    trainer: Any


def build_model(entry: Entry, params: Mapping[str, Any], device: Any) -> Any:
    """A model entry built with ``params`` on ``device``; a factory's mistake is one clear line."""
    import torch

    model = entry.create(**params)
    if not isinstance(model, torch.nn.Module):
        raise _returned(entry, model, "a torch.nn.Module")
    return model.to(device)


def _returned(entry: Entry, made: Any, expected: str) -> ZooError:
    """The one line for a factory that returned something else than ``expected``."""
    return ZooError(
        f"{entry.kind} '{entry.qualname}': the factory returned {type(made).__name__}, not {expected}"
    )


def build_parts(
    config: RunConfig, device: Any, *, dist: Any = None, model: Any = None, data: Any = None
) -> Parts:
    """Model (seeded, on ``device``), dataset and trainer of ``config``; a given model or data are used."""
    from zoo_core.training.seeding import seed_everything

    zoo = get_zoo()
    seed = config.loop.seed
    seed_everything(seed)
    model_entry = zoo.models.get(config.model)
    if data is None:
        build = dist.local_first(build_dataset) if dist is not None else build_dataset
        data = build(  # one download per machine, not one per worker
            zoo.datasets.get(config.dataset),
            config.dataset_params,
            seed=seed,
            data_root=config.data_root,
        )
    apply_implied(config, model_entry, data)  # vocab_size, n_classes ... from the data
    if model is None:
        seed_everything(seed)  # the same initial weights, whatever the dataset drew
        model = build_model(model_entry, config.model_params, device)
    else:
        model = model.to(device)
    trainer_entry = zoo.trainers.get(config.trainer)
    trainer = trainer_entry.create(**config.trainer_params)
    if not callable(getattr(trainer, "step", None)):
        raise _returned(trainer_entry, trainer, "a zoo_core.Trainer")
    return Parts(config=config, model_entry=model_entry, model=model, data=data, trainer=trainer)


@attrs.define
class Plan:
    """How the training data are cut: batches per epoch, and the run's length."""

    train_set: Any
    batches: Any
    preloaded: bool  # in-memory tensors, on the device, sliced by index
    n: int
    per_epoch: int  # micro-batches per epoch
    total_batches: int  # micro-batches in the whole run
    total_steps: int  # optimizer steps in the whole run
    loop: dict[str, Any]
    dist: Any
    _full: list[Any] | None = attrs.field(default=None, init=False, repr=False)

    @property
    def full_batch(self) -> list[Any]:
        """The whole training set as one batch, as it is (made once: a lesson may take thousands)."""
        if self._full is None:
            self._full = [tuple(self.train_set.tensors)]
        return self._full

    def epoch(self, epoch: int, start: int = 0) -> Any:
        """Epoch ``epoch``'s batches from micro-batch ``start`` on, shuffled by the seed and epoch."""
        from zoo_core.plugin.data import batch_indices

        loop, dist = self.loop, self.dist
        if loop.batch_size is None and self.preloaded and not dist.active:
            return self.full_batch
        order = batch_indices(
            self.n,
            dist.local_batch(loop.batch_size),
            seed=loop.seed,
            epoch=epoch,
            shuffle=loop.shuffle,
            drop_last=loop.drop_last,
            rank=dist.rank,
            world=dist.world,
            device=self.train_set.tensors[0].device if self.preloaded else None,
        )
        return self.batches.epoch(order, start=start)

    def stream(self, start: int = 0) -> Iterator[tuple[int, Any]]:
        """``(epoch, micro-batch)`` from micro-batch ``start`` of the run to its last, on the device."""
        from zoo_core.plugin.data import to_device

        done = start
        while done < self.total_batches:
            epoch, before = done // self.per_epoch, done
            for batch in self.epoch(epoch, start=done % self.per_epoch):
                yield epoch, batch if self.preloaded else to_device(batch, self.dist.device)
                done += 1
                if done >= self.total_batches:
                    return
            if done == before:
                raise ZooError(f"epoch {epoch + 1} has no batches: the training set is smaller than a batch")


def plan_batches(config: RunConfig, data: Any, device: Any, dist: Any) -> Plan:
    """Batches of ``batch_size`` (this worker's share), ``accumulate`` of them per optimizer step."""
    import torch

    from zoo_core.plugin.data import Batches, tensors_of

    loop = config.loop
    train_set = data.train
    tensors = tensors_of(train_set)
    if tensors is not None and device.type != "cpu":
        train_set = torch.utils.data.TensorDataset(*(t.to(device) for t in tensors))
    batches = Batches(train_set, workers=loop.workers, seed=loop.seed)
    n = len(batches)
    if n == 0:
        raise ZooError(f"dataset '{config.dataset}' has no training samples")
    size = loop.batch_size or n
    per_epoch = n // size if loop.drop_last else math.ceil(n / size)
    per_epoch = dist.steps_per_epoch(n, loop, per_epoch)
    if per_epoch == 0:
        raise ZooError(f"batch_size {size} is larger than the {n} training samples with drop_last set")
    accumulate = loop.accumulate
    if loop.steps:
        total_batches = loop.steps * accumulate
    else:
        total_batches = loop.epochs * per_epoch
    return Plan(
        train_set=train_set,
        batches=batches,
        preloaded=tensors is not None,
        n=n,
        per_epoch=per_epoch,
        total_batches=total_batches,
        total_steps=math.ceil(total_batches / accumulate),
        loop=loop,
        dist=dist,
    )


@attrs.define
class Assembly:
    """A run, ready to train: ``step(model, batch, optimizers)`` is one micro-batch."""

    parts: Parts
    trainer: Any  # the parts' trainer, made data-parallel in a worker of a job
    plan: Plan
    optimizers: dict[str, Any]
    opt: Any  # the Optimization: precision, accumulation, clipping, schedulers
    manual: bool  # the trainer steps its optimizers itself, through opt
    step: Step
    notices: list[str]


def assemble(
    config: RunConfig,
    device: Any,
    dist: Any,
    *,
    say: Callable[[str], None],
    model: Any = None,
    data: Any = None,
) -> Assembly:
    """Everything ``fit`` needs for ``config`` on ``device``; refusals are one-line errors."""
    from zoo_core.training.optimization import Optimization, check_precision

    loop = config.loop
    parts = build_parts(config, device, dist=dist, model=model, data=data)
    trainer = data_parallel(dist, parts.trainer, config.trainer)
    manual = is_manual(trainer, config.trainer)
    notice = check_precision(loop.precision, device)
    notices = [f"note: {notice}"] if notice else []
    plan = plan_batches(config, parts.data, device, dist)

    zoo = get_zoo()

    def make_optimizer(
        params: Any, name: str | None = None, lr: float | None = None, **overrides: Any
    ) -> Any:
        import torch

        entry = zoo.optimizers.get(name or config.optimizer)
        settings = {**(config.optimizer_params if name is None else {}), **overrides}
        made = entry.call(params, lr=loop.lr if lr is None else lr, **entry.params(settings))
        if not isinstance(made, torch.optim.Optimizer):
            raise _returned(entry, made, "a torch.optim.Optimizer")
        return made

    optimizers = trainer.configure_optimizers(parts.model, make_optimizer)
    schedulers = {
        name: make_scheduler(config.scheduler, o, plan.total_steps, **config.scheduler_params)
        for name, o in optimizers.items()
    }
    if loop.compile:
        compile_model(parts.model, trainer, loop.compile_mode)
    graphable = _graph_blocker(config, schedulers)
    opt = Optimization(
        optimizers,
        schedulers,
        device=device,
        precision=loop.precision,
        accumulate=loop.accumulate,
        grad_clip=loop.grad_clip,
        graphed=device.type == "cuda" and loop.cuda_graphs and not loop.compile and graphable is None,
        average=dist.average_gradients if dist.active and manual else None,
    )
    if trainer is not parts.trainer:
        trainer.opt = opt  # the data-parallel wrapper syncs gradients on a window's last micro-batch only
    step = _step_of(trainer, opt)
    if loop.compile:  # compile's own reduce-overhead mode does the graphs
        step = _CompiledStep(step)
    elif device.type == "cuda" and loop.cuda_graphs and graphable is not None:
        say(f"cuda graphs: off, {graphable}; the step runs eagerly")
    else:
        from zoo_core.training.graphs import wrap_step  # on CUDA, a capturable step is replayed as a graph

        step = wrap_step(
            trainer, device, enabled=loop.cuda_graphs, preloaded=plan.preloaded, say=say, step=step
        )
    return Assembly(
        parts=parts,
        trainer=trainer,
        plan=plan,
        optimizers=optimizers,
        opt=opt,
        manual=manual,
        step=step,
        notices=notices,
    )


def is_manual(trainer: Any, name: str) -> bool:
    """True when the trainer steps its optimizers itself; a step of plugin API 1 is refused here."""
    cls = type(getattr(trainer, "trainer", trainer))  # a data-parallel wrapper answers for its trainer
    if getattr(cls, "manual", False):
        return True
    if getattr(cls, "loss", None) is not Trainer.loss:
        return False
    if getattr(cls, "step", None) is not Trainer.step:
        raise ZooError(
            f"trainer '{name}' overrides step() without manual = True (plugin API 1, no longer run): "
            "implement loss(model, batch) instead, or set manual = True and step through "
            "opt.backward(loss) and opt.step()"
        )
    raise ZooError(f"trainer '{name}' implements neither loss(model, batch) nor a manual step()")


def _graph_blocker(config: RunConfig, schedulers: Mapping[str, Any]) -> str | None:
    """Why the step cannot be one CUDA graph with these options, or None when it can."""
    loop = config.loop
    if loop.accumulate > 1:
        return f"--accumulate {loop.accumulate} makes the step differ between micro-batches"
    if loop.precision == "16-mixed":
        return "16-mixed checks for infinite gradients on the host every step"
    if any(s is not None for s in schedulers.values()):
        return f"the scheduler '{config.scheduler}' changes the learning rate a graph bakes in"
    return None


def _step_of(trainer: Any, opt: Any) -> Step:
    """One micro-batch through ``trainer``: in the run's precision, stepping through ``opt``."""

    def step(model: Any, batch: Any, optimizers: Mapping[str, Any]) -> Mapping[str, Any]:
        with opt.autocast():  # opt.backward leaves autocast for the backward pass
            return trainer.step(model, batch, opt)

    return step


def compile_model(model: Any, trainer: Any, mode: str) -> None:
    """``torch.compile`` in place (the weights keep their names), or each module the step calls."""
    names = getattr(trainer, "modules", ()) or ()
    targets = [getattr(model, name) for name in names] or [model]
    for module in targets:
        module.compile(mode=None if mode == "default" else mode)


class _CompiledStep:
    """The step of a compiled model: the first call compiles, is timed apart, and fails in one line."""

    def __init__(self, step: Step) -> None:
        self.inner = step
        self.compile_seconds: float | None = None

    def __call__(self, model: Any, batch: Any, optimizers: Mapping[str, Any]) -> Mapping[str, Any]:
        if self.compile_seconds is not None:
            return self.inner(model, batch, optimizers)
        started = time.perf_counter()
        try:
            out = self.inner(model, batch, optimizers)
        except Exception as exc:
            if not _from_compiler(exc):
                raise
            raise ZooError(
                f"--compile failed: {type(exc).__name__}: {first_line(exc)}; train without --compile"
            ) from exc
        self.compile_seconds = time.perf_counter() - started
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _from_compiler(exc: BaseException) -> bool:
    """An error raised by torch.compile's machinery (dynamo, inductor, the C++ compiler)."""
    while exc is not None:
        module = type(exc).__module__ or ""
        if module.startswith(("torch._dynamo", "torch._inductor", "torch.fx")):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False
