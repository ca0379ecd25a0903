"""Figures of digits: a grid of images titled with their predicted (and true) labels."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from zoo_core import pyplot, save_figure


def digit_grid(
    images: torch.Tensor,
    labels: torch.Tensor,
    predictions: torch.Tensor,
    path: str | Path,
    title: str = "",
    columns: int = 10,
) -> Path:
    """Show ``images`` (N, 1, 28, 28) or (N, 784) in a grid; wrong predictions are titled in red."""
    plt = pyplot()
    n = len(images)
    columns = max(1, min(columns, n))
    rows = max(1, math.ceil(n / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.2 * columns, 1.45 * rows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i].reshape(28, 28).cpu().numpy(), cmap="gray_r", vmin=0.0, vmax=1.0)
        pred, true = int(predictions[i]), int(labels[i])
        ax.set_title(
            f"{pred}" if pred == true else f"{pred} (is {true})",
            fontsize=9,
            color="black" if pred == true else "red",
        )
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)
