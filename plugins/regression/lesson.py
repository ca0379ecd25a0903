"""Lesson 301's model, data and figure (imported only when a run needs them)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

from zoo_core import Splits
from zoo_core.figures import pyplot, save_figure
from zoo_core.layers import activation as make_activation
from zoo_plugins.supervised.step import Supervised


class Net(nn.Module):
    """Input -> hidden layer -> activation -> output, written as a class (the lesson's way).

    Its weights are named ``hidden.*`` and ``predict.*``; lesson 303 builds the same function with
    ``nn.Sequential``, whose weights are named ``0.*`` and ``2.*``.
    """

    def __init__(self, n_feature: int = 1, n_hidden: int = 10, n_output: int = 1, activation: str = "relu"):
        super().__init__()
        self.hidden = nn.Linear(n_feature, n_hidden)
        self.act = make_activation(activation)
        self.predict = nn.Linear(n_hidden, n_output)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.predict(self.act(self.hidden(x)))


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
