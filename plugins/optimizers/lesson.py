"""Lesson 306's race: one small net per optimizer, all fed the same batches of a noisy parabola."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

from zoo_core import Splits, ZooError, pyplot, save_figure
from zoo_core import activation as make_activation
from zoo_plugins.standard.compare import Compare, variants


def key_of(name: str) -> str:
    """A ``ModuleDict`` key for an optimizer name (keys cannot contain dots)."""
    return name.replace(".", "_").replace(":", "__")


class RaceNets(nn.ModuleDict):
    """One 1-``n_hidden``-1 net per racing optimizer, same architecture, each its own initial weights.

    ``optimizers`` is a model hyperparameter so the nets and the race always follow one list:
    ``zoo train optimizers --set optimizers=sgd,adam``.
    """

    def __init__(
        self,
        optimizers: Sequence[str] = ("sgd", "momentum", "rmsprop", "adam"),
        n_hidden: int = 20,
        activation: str = "relu",
    ) -> None:
        names = [n.strip() for n in optimizers if n and n.strip()]
        if not names:
            raise ZooError("the optimizer race needs at least one optimizer: --set optimizers=sgd,adam")
        keys = [key_of(n) for n in names]
        if len(set(keys)) != len(keys):
            raise ZooError(f"optimizers {', '.join(names)}: each optimizer may race only once")
        super().__init__(
            {
                key: nn.Sequential(
                    nn.Linear(1, n_hidden), make_activation(activation), nn.Linear(n_hidden, 1)
                )
                for key in keys
            }
        )
        #: ModuleDict key -> optimizer registry name
        self.optimizer_names = dict(zip(keys, names, strict=True))


def noisy_parabola(
    n: int = 1000, noise: float = 0.1, low: float = -1.0, high: float = 1.0, seed: int = 0
) -> Splits:
    """``n`` points x evenly spaced in [low, high], y = x**2 + noise * N(0, 1), drawn from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.linspace(low, high, n).unsqueeze(1)
    y = x.pow(2) + noise * torch.randn(x.shape, generator=gen)
    return Splits(
        train=TensorDataset(x, y), eval=None, info={"inputs": 1, "outputs": 1, "noise_floor": noise**2}
    )


class Race(Compare):
    """The comparison trainer with one optimizer per variant, named by the variant.

    The tutorial's settings of the racers are this trainer's settings (``--set momentum=0.9``):
    ``momentum`` goes to the ``momentum`` racer, ``alpha`` to ``rmsprop``, ``betas`` to ``adam``.
    """

    figure = "race.png"
    #: trainer setting -> the racer it configures
    ROUTES = {"momentum": "momentum", "alpha": "rmsprop", "betas": "adam"}

    def __init__(
        self,
        loss: str = "mse",
        momentum: float = 0.8,
        alpha: float = 0.9,
        betas: Sequence[float] = (0.9, 0.99),
        eval_batch_size: int = 4096,
    ) -> None:
        super().__init__(loss=loss, eval_batch_size=eval_batch_size)
        self.settings = {"momentum": momentum, "alpha": alpha, "betas": tuple(betas)}

    def optimizer_for(self, model, variant):
        name = getattr(model, "optimizer_names", {}).get(variant, variant)
        bare = name.rpartition(":")[2]
        return name, {k: v for k, v in self.settings.items() if self.ROUTES[k] == bare}

    def figures(self, model, data, device, history, run_dir):
        """The loss of every racer against the step (log scale), and every racer's final fit."""
        names = variants(model)
        curves = self.curves(history, "loss_", names)
        if not curves:
            return []
        labels = getattr(model, "optimizer_names", {})
        floor = data.info.get("noise_floor")
        plt = pyplot()
        fig, (ax, fit) = plt.subplots(1, 2, figsize=(12, 4.5))
        final = self.evaluate(model, data, device)
        for name, (steps, values) in curves.items():
            label = (
                f"{labels.get(name, name)} (final MSE {final.get(f'{self.metric}_{name}', float('nan')):.4f})"
            )
            ax.plot(steps, values, lw=1.2, label=label)
        if floor:
            ax.axhline(floor, color="k", ls=":", lw=1, label=f"noise floor {floor:.3f}")
        ax.set(
            xlabel="step", ylabel="training loss (MSE)", yscale="log", title="optimizer race: same batches"
        )
        ax.legend(fontsize=8, framealpha=0.8)
        x, y = data.train.tensors
        order = x[:, 0].argsort()
        fit.scatter(x[:, 0].numpy(), y[:, 0].numpy(), s=4, c="0.7", label="data")
        for name, net in model.items():
            out, _ = self.predict(net, data.train, device)
            fit.plot(x[order, 0].numpy(), out[order, 0].numpy(), lw=2, label=labels.get(name, name))
        fit.set(xlabel="x", ylabel="y", title="final fits")
        fit.legend()
        return [save_figure(fig, Path(run_dir) / self.figure)]
