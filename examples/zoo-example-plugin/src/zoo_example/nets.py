"""The example plugin's model and dataset (imported only when zoo builds them)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.data import TensorDataset

from zoo_core import Splits


class ResidualBlock(nn.Module):
    """``x + Linear(ReLU(Linear(x)))``: the block learns a correction to its input."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.inner = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.inner(x)


class ResidualMLP(nn.Module):
    """2-D points -> ``width`` features -> ``blocks`` residual blocks -> ``classes`` logits."""

    def __init__(self, width: int = 32, blocks: int = 2, classes: int = 3) -> None:
        super().__init__()
        self.stem = nn.Linear(2, width)
        self.blocks = nn.Sequential(*(ResidualBlock(width) for _ in range(blocks)))
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(width, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


def spiral_points(
    arms: int, n: int, turns: float, noise: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points per arm: radius r ~ U(0, 1), angle = arm offset + r * turns * 2 pi + noise."""
    labels = torch.arange(arms).repeat_interleave(n)
    r = torch.rand(arms * n, generator=gen)
    angle = labels * (2 * math.pi / arms) + r * turns * 2 * math.pi
    angle = angle + noise * torch.randn(arms * n, generator=gen)
    x = torch.stack((r * torch.cos(angle), r * torch.sin(angle)), dim=1)
    return x, labels


def spiral(arms: int = 3, n: int = 200, turns: float = 1.0, noise: float = 0.15, seed: int = 0) -> Splits:
    """A spiral with ``arms`` classes, ``n`` training points per arm and as many held out."""
    gen = torch.Generator().manual_seed(seed)
    train = spiral_points(arms, n, turns, noise, gen)
    held_out = spiral_points(arms, n, turns, noise, gen)
    return Splits(
        train=TensorDataset(*train),
        eval=TensorDataset(*held_out),
        info={"classes": [f"arm {i}" for i in range(arms)], "n_classes": arms, "inputs": 2},
    )
