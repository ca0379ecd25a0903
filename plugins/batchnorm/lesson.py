"""Lesson 504's deep tanh nets (with and without batch normalization), data and figures."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

from zoo_core import Splits, pyplot, save_figure
from zoo_core import activation as make_activation
from zoo_plugins.standard.compare import Compare, variants


def deep_net(
    n_hidden: int,
    width: int,
    activation: str,
    batch_norm: bool,
    bn_momentum: float,
    init_std: float,
    init_bias: float,
) -> nn.Sequential:
    """``n_hidden`` Linear+activation layers of ``width`` and a Linear output; with ``batch_norm``,
    BatchNorm1d on the input and after every hidden Linear (before its activation).

    Every Linear starts from weights N(0, init_std**2) and biases ``init_bias`` (a deliberately bad
    constant), as the tutorial's ``_set_init``.
    """
    layers: list[nn.Module] = [nn.BatchNorm1d(1, momentum=bn_momentum)] if batch_norm else []
    for i in range(n_hidden):
        layers.append(nn.Linear(1 if i == 0 else width, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width, momentum=bn_momentum))
        layers.append(make_activation(activation))
    layers.append(nn.Linear(width, 1))
    for layer in layers:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, mean=0.0, std=init_std)
            nn.init.constant_(layer.bias, init_bias)
    return nn.Sequential(*layers)


class BatchNormPair(nn.ModuleDict):
    """``plain``: 8 tanh layers of 10 with a bad initialization; ``bn``: the same with batch norm."""

    def __init__(
        self,
        n_hidden: int = 8,
        width: int = 10,
        activation: str = "tanh",
        bn_momentum: float = 0.5,
        init_std: float = 0.1,
        init_bias: float = -0.2,
    ) -> None:
        settings = dict(
            n_hidden=n_hidden,
            width=width,
            activation=activation,
            bn_momentum=bn_momentum,
            init_std=init_std,
            init_bias=init_bias,
        )
        super().__init__(
            {"plain": deep_net(batch_norm=False, **settings), "bn": deep_net(batch_norm=True, **settings)}
        )


def wide_parabola(
    n: int = 2000, n_test: int = 200, low: float = -7.0, high: float = 10.0, noise: float = 2.0, seed: int = 0
) -> Splits:
    """y = x**2 - 5 + noise * N(0, 1) on linspace(low, high, n); a test set of ``n_test`` points."""
    gen = torch.Generator().manual_seed(seed)

    def draw(count: int) -> TensorDataset:
        x = torch.linspace(low, high, count).unsqueeze(1)
        return TensorDataset(x, x.pow(2) - 5 + noise * torch.randn(x.shape, generator=gen))

    train, test = draw(n), draw(n_test)
    return Splits(
        train=train,
        eval=test,
        info={"inputs": 1, "outputs": 1, "label_variance": float(train.tensors[1].var())},
    )


@torch.no_grad()
def layer_values(net: nn.Sequential, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Each hidden layer's pre-activation (the Linear's output) and its activation, in eval mode."""
    was_training = net.training
    net.eval()
    pre, post = [], []
    for layer in net:
        x = layer(x)
        if isinstance(layer, nn.Linear):
            pre.append(x)
        elif not isinstance(layer, nn.BatchNorm1d) and pre and len(post) < len(pre):
            post.append(x)
    net.train(was_training)
    return pre[: len(post)], post


class BatchNormCompare(Compare):
    """The comparison trainer; figures: both nets' test loss per epoch, and their layer histograms."""

    figure = "batchnorm.png"

    def figures(self, model, data, device, history, run_dir):
        paths = []
        names = variants(model)
        test = self.curves(history, f"test_{self.metric}_", names)
        steps_per_epoch = {row["epoch"]: row["step"] for row in history}  # the last step of each epoch
        plt = pyplot()
        fig, (ax, fit) = plt.subplots(1, 2, figsize=(12, 4.5))
        for name, (steps, values) in test.items():
            epochs = [s / max(steps_per_epoch.values()) * max(steps_per_epoch) for s in steps]
            ax.plot(epochs, values, "o-", ms=4, lw=2, label="batch norm" if name == "bn" else name)
        variance = data.info.get("label_variance")
        if variance:
            ax.axhline(variance, color="k", ls=":", lw=1, label=f"label variance {variance:.0f}")
        ax.set(xlabel="epoch", ylabel="test loss (MSE)", yscale="log", title="test loss per epoch")
        ax.legend()
        x, y = data.eval.tensors
        fit.scatter(x[:, 0].numpy(), y[:, 0].numpy(), s=6, c="0.6", label="test data")
        for name, net in model.items():
            out, _ = self.predict(net, data.eval, device)
            fit.plot(x[:, 0].numpy(), out[:, 0].numpy(), lw=2, label="batch norm" if name == "bn" else name)
        fit.set(xlabel="x", ylabel="y", title="predictions on the test set")
        fit.legend()
        paths.append(save_figure(fig, Path(run_dir) / self.figure))
        paths.append(self.histograms(model, data, device, Path(run_dir) / "activations.png"))
        return paths

    def histograms(self, model, data, device, path: Path) -> Path:
        """Rows: each net's pre-activations, then activations; one column per hidden layer."""
        x = data.eval.tensors[0].to(device)
        values = {name: layer_values(net, x) for name, net in model.items()}
        columns = max(len(pre) for pre, _ in values.values())
        rows = [(f"{name} pre-act", pre) for name, (pre, _) in values.items()]
        rows += [(f"{name} act", post) for name, (_, post) in values.items()]
        plt = pyplot()
        fig, axes = plt.subplots(len(rows), columns, figsize=(1.6 * columns, 1.4 * len(rows)), squeeze=False)
        for r, (label, tensors) in enumerate(rows):
            for c in range(columns):
                ax = axes[r][c]
                if c < len(tensors):
                    span = (-4, 4) if "pre-act" in label else (-1, 1)
                    # values beyond the range are piled into the edge bins, so saturation shows
                    flat = tensors[c].flatten().cpu().clamp(*span).numpy()
                    ax.hist(flat, bins=10, range=span, color="#FF9359" if r % 2 else "#74BCFF")
                ax.set_xticks([])
                ax.set_yticks([])
                if c == 0:
                    ax.set_ylabel(label, fontsize=8)
                if r == 0:
                    ax.set_title(f"layer {c + 1}", fontsize=8)
        fig.suptitle("hidden layers on the test inputs (final weights)")
        return save_figure(fig, path)
