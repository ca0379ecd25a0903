"""Figures for run folders: matplotlib without a screen, saved atomically as PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zoo_core.plugin.atomic import atomic_path


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (works on machines with no display)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG atomically and close it."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        pyplot().close(fig)
    return path


def loss_curve(history: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> Path | None:
    """Every loss column of the metrics history against the step, one line each."""
    keys = sorted({k for row in history for k in row if "loss" in k and row.get(k) is not None})
    if not keys:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for key in keys:
        points = [(row["step"], row[key]) for row in history if row.get(key) is not None]
        sparse = len(points) < len(history)  # an evaluation's column: each point marked, even one alone
        ax.plot([p[0] for p in points], [p[1] for p in points], label=key, marker="o" if sparse else None)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if all(row[k] > 0 for k in keys for row in history if row.get(k) is not None):
        ax.set_yscale("log")
    ax.set_title(title or "training loss")
    lines, labels = ax.get_legend_handles_labels()
    rates = [(row["step"], row["lr"]) for row in history if row.get("lr") is not None]
    if len({lr for _, lr in rates}) > 1:  # a schedule: the learning rate on its own axis
        right = ax.twinx()
        right.plot([p[0] for p in rates], [p[1] for p in rates], color="gray", linestyle="--", label="lr")
        right.set_ylabel("learning rate")
        more = right.get_legend_handles_labels()
        lines, labels = lines + more[0], labels + more[1]
    ax.legend(lines, labels)
    return save_figure(fig, path)
