"""Lesson 503's two nets, its 20-point data and the figure of both fits."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

from zoo_core import Splits, pyplot, save_figure
from zoo_core import activation as make_activation
from zoo_plugins.standard.compare import Compare


def mlp(n_hidden: int, activation: str, p: float) -> nn.Sequential:
    """1-n-n-1, with ``Dropout(p)`` after each hidden ``Linear`` when ``p > 0`` (as the tutorial)."""
    layers: list[nn.Module] = []
    for size_in in (1, n_hidden):
        layers.append(nn.Linear(size_in, n_hidden))
        if p > 0:
            layers.append(nn.Dropout(p))
        layers.append(make_activation(activation))
    layers.append(nn.Linear(n_hidden, 1))
    return nn.Sequential(*layers)


class DropoutPair(nn.ModuleDict):
    """``plain``: a 1-300-300-1 net that overfits 20 points; ``dropout``: the same with Dropout(p)."""

    def __init__(self, n_hidden: int = 300, p: float = 0.5, activation: str = "relu") -> None:
        super().__init__({"plain": mlp(n_hidden, activation, 0.0), "dropout": mlp(n_hidden, activation, p)})


def noisy_line(n: int = 20, noise: float = 0.3, seed: int = 0) -> Splits:
    """y = x + noise * N(0, 1) on x = linspace(-1, 1, n); the test set: fresh noise on the same x."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.linspace(-1, 1, n).unsqueeze(1)
    y = x + noise * torch.randn(x.shape, generator=gen)
    test_y = x + noise * torch.randn(x.shape, generator=gen)
    return Splits(
        train=TensorDataset(x, y),
        eval=TensorDataset(x.clone(), test_y),
        info={"inputs": 1, "outputs": 1, "noise_floor": noise**2},
    )


class DropoutCompare(Compare):
    """The comparison trainer; its figure shows train and test points and both nets' fits."""

    figure = "dropout.png"

    def figures(self, model, data, device, history, run_dir):
        (x, y), (tx, ty) = data.train.tensors, data.eval.tensors
        metrics = self.evaluate(model, data, device)
        grid = torch.linspace(float(x.min()), float(x.max()), 200).unsqueeze(1)
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(7, 5))
        ax.scatter(x[:, 0].numpy(), y[:, 0].numpy(), c="magenta", s=40, alpha=0.6, label="train")
        ax.scatter(tx[:, 0].numpy(), ty[:, 0].numpy(), c="cyan", s=40, alpha=0.6, label="test")
        styles = {"plain": "r-", "dropout": "b--"}
        for name, net in model.items():
            out, _ = self.predict(net, torch.utils.data.TensorDataset(grid, grid), device)
            label = (
                f"{name}: train MSE {metrics[f'train_{self.metric}_{name}']:.3f}, "
                f"test MSE {metrics[f'test_{self.metric}_{name}']:.3f}"
            )
            ax.plot(grid[:, 0].numpy(), out[:, 0].numpy(), styles.get(name, "-"), lw=3, label=label)
        ax.set(xlabel="x", ylabel="y", title="dropout: overfitting vs dropout (evaluation mode)")
        ax.legend(loc="upper left", fontsize=9)
        return [save_figure(fig, Path(run_dir) / self.figure)]
