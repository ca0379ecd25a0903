"""Lesson 305: the batches the shared loop draws, shown for a ten-sample dataset."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import TensorDataset

from zoo_core import Batches, Splits, batch_indices


def linspace_pairs(n: int = 10, low: float = 1.0, high: float = 10.0) -> Splits:
    """x = linspace(low, high, n) and y = linspace(high, low, n), as 1-D tensors (the lesson's)."""
    x = torch.linspace(low, high, n)
    y = torch.linspace(high, low, n)
    return Splits(train=TensorDataset(x, y), eval=None, info={"inputs": 1})


def batches(
    dataset: Any,
    *,
    batch_size: int | None = 5,
    epochs: int = 3,
    shuffle: bool = True,
    drop_last: bool = False,
    seed: int = 0,
) -> list[tuple[int, int, tuple[torch.Tensor, ...]]]:
    """``(epoch, step, batch)`` for every batch, drawn exactly as the shared loop draws them."""
    loader = Batches(dataset, seed=seed)
    out = []
    for epoch in range(epochs):
        order = batch_indices(
            len(loader), batch_size, seed=seed, epoch=epoch, shuffle=shuffle, drop_last=drop_last
        )
        out.extend((epoch, step, batch) for step, batch in enumerate(loader.epoch(order)))
    return out


def _fmt(t: torch.Tensor) -> str:
    return "[" + " ".join(f"{v:g}" for v in t.tolist()) + "]"


def main(
    batch_size: int = 5,
    epochs: int = 3,
    shuffle: bool = True,
    drop_last: bool = False,
    seed: int = 0,
    echo: Callable[[str], None] = print,
) -> list[tuple[int, int, tuple[torch.Tensor, ...]]]:
    """Print every batch of ``linspace-pairs``; returns them."""
    data = linspace_pairs()
    x, y = data.train.tensors
    echo(f"x = {_fmt(x)}")
    echo(f"y = {_fmt(y)}")
    echo(
        f"batch_size={batch_size} shuffle={str(shuffle).lower()} drop_last={str(drop_last).lower()} "
        f"seed={seed}, {epochs} epochs"
    )
    drawn = batches(
        data.train, batch_size=batch_size, epochs=epochs, shuffle=shuffle, drop_last=drop_last, seed=seed
    )
    for epoch, step, (bx, by) in drawn:
        echo(f"Epoch: {epoch} | Step: {step} | batch x: {_fmt(bx)} | batch y: {_fmt(by)}")
    echo(
        "These are the shared trainer's own options, for any model: zoo train NAME "
        f"--batch-size {batch_size} --set shuffle={str(shuffle).lower()} "
        f"--set drop_last={str(drop_last).lower()} --seed {seed}"
    )
    return drawn
