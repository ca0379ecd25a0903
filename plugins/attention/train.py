"""The lesson's trainer and optimizer: next-character cross-entropy, and AdamW with decay on matrices."""

from __future__ import annotations

from typing import Any

import torch

from zoo_core import ZooError
from zoo_plugins.standard.supervised import Supervised


class CharLM(Supervised):
    """Cross-entropy of every next character: ``eval_loss`` is nats per character of the held-out text."""

    def __init__(self, loss: str = "cross_entropy", eval_batch_size: int = 256) -> None:
        super().__init__(loss=loss, eval_batch_size=eval_batch_size)

    def check(self, model: torch.nn.Module, batch: Any) -> None:
        """Windows longer than the model's positions, or characters beyond its vocabulary, are one line."""
        x, _ = batch
        positions = getattr(model, "n_positions", None)
        if positions is not None and x.shape[1] > positions:
            raise ZooError(
                f"the data's windows are {x.shape[1]} characters but the model has {positions} "
                f"positions: set --set model.n_positions={x.shape[1]} or --set dataset.block_size={positions}"
            )
        vocab = model.tok.num_embeddings if hasattr(model, "tok") else None
        if vocab is not None and int(x.max()) >= vocab:
            raise ZooError(
                f"the data has character index {int(x.max())} but the model knows {vocab} characters: "
                "leave vocab_size to the data (do not --set it)"
            )


def adamw(
    params: Any,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.99),
    weight_decay: float = 0.1,
    fused: bool | None = None,
) -> torch.optim.Optimizer:
    """AdamW decaying the matrices and embeddings (2-D and up) only, never biases and norms."""
    params = [p for p in params if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, betas=betas, fused=fused)
