"""The base class of trainer entries: what differs between lessons, called by the shared loop."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from zoo_core.plugin.data import Splits

MakeOptimizer = Callable[..., "torch.optim.Optimizer"]


class Trainer:
    """One lesson's training step. The shared loop owns devices, data, logging and checkpoints.

    Subclass it and register the class with ``registry.add(name, factory=MyTrainer, defaults=...)``
    in ``register_trainers``; the constructor receives the entry's defaults (with the user's
    ``--set`` overrides) as keywords. Then either

    - override ``loss(model, batch)`` and return a dict with a ``loss`` tensor: the loop does the
      rest (autocast, backward, accumulation, clipping, optimizer and scheduler steps), or
    - set ``manual = True`` and override ``step(model, batch, opt)``, driving the optimizers of
      ``configure_optimizers`` through ``opt.backward(loss)`` and ``opt.step(name)`` (a GAN, a race).

    A ``step`` that calls ``optimizer.step()`` itself without ``manual = True`` (plugin API 1) is
    refused before training, with the line that says how to port it.
    """

    #: False when the step cannot be split across data-parallel workers (e.g. an optimizer race).
    data_parallel: bool = True
    #: True when the step has static shapes and no host syncs, so it may be captured as a graph.
    capturable: bool = False
    #: True when ``step`` drives the optimizers itself, through the ``Optimization`` it is handed.
    manual: bool = False
    #: Submodules the step calls directly (``model.generator``): ``--compile`` compiles each one.
    modules: tuple[str, ...] = ()

    def configure_optimizers(
        self, model: torch.nn.Module, make_optimizer: MakeOptimizer
    ) -> dict[str, torch.optim.Optimizer]:
        """Optimizers by name; ``make_optimizer(params, name=None, **overrides)`` uses the registry."""
        return {"main": make_optimizer(model.parameters())}

    def check(self, model: torch.nn.Module, batch: Any) -> None:
        """Called once before step 1 (a resumed run too) and before ``zoo eval``, with the model and
        a first batch on its device: raise ``ZooError`` for data the model cannot take, in one line."""

    def loss(self, model: torch.nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        """The batch's losses: ``loss`` is optimized, every other entry is logged as it is."""
        raise NotImplementedError(f"{type(self).__name__} must implement loss() or step()")

    def step(self, model: torch.nn.Module, batch: Any, opt: Any) -> dict[str, torch.Tensor]:
        """One step of ``loss`` through ``opt``, the loop's ``Optimization``; returns the detached losses.

        A manual trainer overrides it and drives ``opt.backward(loss)`` and ``opt.step(name)`` itself.
        """
        losses = self.loss(model, batch)
        opt.backward(losses["loss"])
        opt.step()
        return {k: v.detach() for k, v in losses.items()}

    def evaluate(self, model: torch.nn.Module, data: Splits, device: torch.device) -> dict[str, float]:
        """The lesson's metrics on its evaluation data (plain floats)."""
        return {}

    def figures(
        self,
        model: torch.nn.Module,
        data: Splits,
        device: torch.device,
        history: list[dict[str, float]],
        run_dir: Path,
    ) -> Iterable[Path]:
        """Write the lesson's figures (PNG) into ``run_dir``; return their paths."""
        return ()

    def state_dict(self) -> dict[str, Any]:
        """Tensors the trainer carries between steps (an RNN's hidden state), for resume."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""


def check_batch(trainer: Any, model: torch.nn.Module, batch: Any) -> None:
    """Run the trainer's ``check`` hook (a trainer that is not a ``Trainer`` subclass may lack it)."""
    check = getattr(trainer, "check", None)
    if callable(check):
        check(model, batch)
