"""The base class of trainer entries: what differs between lessons, called by the shared loop."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from zoo_core.data import Splits

MakeOptimizer = Callable[..., "torch.optim.Optimizer"]


class Trainer:
    """One lesson's training step. The shared loop owns devices, data, logging and checkpoints.

    Subclass it, override ``step`` (and, when needed, the other methods), and register the class
    with ``registry.add(name, factory=MyTrainer, defaults={...})`` in ``register_trainers``. The
    constructor receives the entry's defaults (with the user's ``--set`` overrides) as keywords.
    """

    #: False when the step cannot be split across data-parallel workers (e.g. an optimizer race).
    data_parallel: bool = True
    #: True when ``step`` has static shapes and no host syncs, so it may be captured as a graph.
    capturable: bool = False

    def __init__(self, **params: Any) -> None:
        self.params = params

    def configure_optimizers(
        self, model: torch.nn.Module, make_optimizer: MakeOptimizer
    ) -> dict[str, torch.optim.Optimizer]:
        """Optimizers by name; ``make_optimizer(params, name=None, **overrides)`` uses the registry."""
        return {"main": make_optimizer(model.parameters())}

    def step(
        self, model: torch.nn.Module, batch: Any, optimizers: dict[str, torch.optim.Optimizer]
    ) -> dict[str, torch.Tensor]:
        """One training step (forward, backward, optimizer step); return detached scalar losses."""
        raise NotImplementedError(f"{type(self).__name__} must implement step()")

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
