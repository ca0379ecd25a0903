"""Lesson 203: the activation curves and their 2x2 figure."""

from __future__ import annotations

from pathlib import Path

import torch

from zoo_core import activation, pyplot, save_figure

#: the lesson's four panels: name and y-limits, in the tutorial's order.
PANELS = (("relu", (-1, 5)), ("sigmoid", (-0.2, 1.2)), ("tanh", (-1.2, 1.2)), ("softplus", (-0.2, 6)))


def curves(x: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``x`` (default ``linspace(-5, 5, 200)``) and each activation applied to it."""
    if x is None:
        x = torch.linspace(-5, 5, 200)
    with torch.no_grad():
        return x, {name: activation(name)(x) for name, _ in PANELS}


def draw(out: str | Path = "activations.png") -> Path:
    """Save the lesson's 2x2 figure of the four activations to ``out``; returns its path."""
    x, ys = curves()
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(8, 6))
    for ax, (name, ylim) in zip(axes.flat, PANELS, strict=True):
        ax.plot(x.numpy(), ys[name].numpy(), c="red", label=name)
        ax.set_ylim(ylim)
        ax.legend(loc="best")
    fig.suptitle("activation functions on x in [-5, 5]")
    path = Path(out)
    if path.parent != Path(""):
        path.parent.mkdir(parents=True, exist_ok=True)
    return save_figure(fig, path)
