"""The data, trainers and figures of lessons 301 and 302, which lessons 303 and 304 train with too.

Lesson 301 (regression) fits ``quadratic`` with the ``regression`` trainer (the supervised step
plus the fitted-curve figure); lesson 302 (classification) separates ``two-clusters`` with the
``classification`` trainer (plus the points-by-prediction figure). Lesson 303 builds the same nets
with ``nn.Sequential`` and lesson 304 saves and reloads one, on the same data: shared parts.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from zoo_core import Splits, pyplot, save_figure
from zoo_plugins.standard.supervised import Supervised


def quadratic(
    n: int = 100, noise: float = 0.2, low: float = -1.0, high: float = 1.0, seed: int = 0
) -> Splits:
    """``n`` points on a parabola, shape (n, 1), with uniform noise drawn from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.linspace(low, high, n).unsqueeze(1)
    y = x.pow(2) + noise * torch.rand(x.shape, generator=gen)
    return Splits(train=TensorDataset(x, y), eval=None, info={"inputs": 1, "outputs": 1})


def fit_figure(model, data: Splits, device, path: Path, predict) -> Path | None:
    """Scatter the training points and draw the model's curve through them, with its MSE."""
    tensors = getattr(data.train, "tensors", None)
    if tensors is None or tensors[0].ndim != 2 or tensors[0].shape[1] != 1:
        return None  # the figure is for 1-D inputs only
    out, y = predict(model, data.train, device)
    if out.shape != y.shape:
        return None
    x = tensors[0][:, 0]
    order = x.argsort()
    mse = float(((out - y) ** 2).mean())
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter(x.numpy(), y[:, 0].numpy(), s=12, label="data")
    ax.plot(x[order].numpy(), out[order, 0].numpy(), "r-", lw=3, label="fit")
    ax.text(
        0.5,
        0.7,
        f"Loss={mse:.4f}",
        transform=ax.transAxes,
        ha="center",
        fontdict={"size": 16, "color": "red"},
    )
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("regression: data and fitted curve")
    ax.legend(loc="upper center")
    return save_figure(fig, path)


class RegressionTrainer(Supervised):
    """The shared supervised step unchanged; adds the lesson's figure ``regression.png``."""

    def figures(self, model, data, device, history, run_dir):
        path = fit_figure(model, data, device, Path(run_dir) / "regression.png", self.predict)
        return [path] if path else []


def two_clusters(n: int = 100, center: float = 2.0, std: float = 1.0, seed: int = 0) -> Splits:
    """``n`` points around (+center, +center) with label 0 and ``n`` around the opposite, label 1."""
    gen = torch.Generator().manual_seed(seed)
    mean = torch.full((n, 2), float(center))
    x0 = torch.normal(mean, std, generator=gen)
    x1 = torch.normal(-mean, std, generator=gen)
    x = torch.cat([x0, x1])
    y = torch.cat([torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long)])
    return Splits(train=TensorDataset(x, y), eval=None, info={"inputs": 2, "classes": ["0", "1"]})


def points_figure(model, data: Splits, device, path: Path, predict) -> Path | None:
    """The evaluation points coloured by the predicted class, with the accuracy."""
    split = data.evaluation
    tensors = getattr(split, "tensors", None)
    if tensors is None or tensors[0].ndim != 2 or tensors[0].shape[1] != 2:
        return None  # the figure is for 2-D inputs only
    out, y = predict(model, split, device)
    if out.ndim != 2:
        return None
    pred = out.argmax(1)
    accuracy = float((pred == y).float().mean())
    x = tensors[0]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.scatter(x[:, 0].numpy(), x[:, 1].numpy(), c=pred.numpy(), s=40, lw=0, cmap="RdYlGn")
    wrong = pred != y
    if bool(wrong.any()):
        ax.scatter(
            x[wrong, 0].numpy(),
            x[wrong, 1].numpy(),
            s=90,
            marker="x",
            c="black",
            label=f"misclassified ({int(wrong.sum())})",
        )
        ax.legend(loc="upper left")
    ax.text(
        0.5,
        0.05,
        f"Accuracy={accuracy:.3f}",
        transform=ax.transAxes,
        ha="center",
        fontdict={"size": 16, "color": "red"},
    )
    ax.set_title("classification: points coloured by prediction")
    return save_figure(fig, path)


class ClassificationTrainer(Supervised):
    """The shared supervised step unchanged; adds the lesson's figure ``classification.png``."""

    def __init__(self, loss: str = "cross_entropy", eval_batch_size: int = 1000) -> None:
        super().__init__(loss=loss, eval_batch_size=eval_batch_size)

    def figures(self, model, data, device, history, run_dir):
        path = points_figure(model, data, device, Path(run_dir) / "classification.png", self.predict)
        return [path] if path else []
