"""A trainer that trains several models side by side on the same batches: a fair comparison.

The model is an ``nn.ModuleDict``: one network per variant (an optimizer, a layer choice, ...).
Every step, each variant gets the same batch, its own forward pass, loss, backward and optimizer
step. The shared loop saves and reloads the ``ModuleDict`` like any other model.

It is public: the optimizer race (306), dropout (503) and batch normalization (504) lessons use it,
and a third-party plugin can subclass it the same way::

    from zoo_plugins.standard.compare import Compare

    class MyComparison(Compare):
        def figures(self, model, data, device, history, run_dir): ...

Losses are logged as ``loss_<variant>``; ``evaluate`` reports ``<metric>_<variant>`` on the
evaluation data (``mse_sgd``), or ``train_<metric>_<variant>`` and ``test_<metric>_<variant>``
when the dataset holds out test data.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zoo_core import Trainer, ZooError, pyplot, save_figure
from zoo_plugins.standard.supervised import LOSSES


def variants(model: nn.Module) -> list[str]:
    """The variant names of a comparison model (the keys of its ``ModuleDict``), in order."""
    if not isinstance(model, nn.ModuleDict):
        raise ZooError(
            f"a comparison trainer needs an nn.ModuleDict of models (one per variant), "
            f"got {type(model).__name__}"
        )
    return list(model.keys())


class Compare(Trainer):
    """Train every model of an ``nn.ModuleDict`` on the same batches, each with its own optimizer.

    ``configure_optimizers`` gives each variant the run's optimizer (``optimizer_for`` picks
    another per variant: the optimizer race overrides it).
    """

    # A ModuleDict of models with one optimizer each is not one DDP module.
    data_parallel = False
    # Static shapes, no host reads: on CUDA the whole step (every variant) can be one graph.
    capturable = True
    manual = True  # one optimizer per variant, each stepped on its own loss

    #: the file name of the lesson figure ``figures`` writes
    figure = "compare.png"

    def __init__(self, loss: str = "mse", eval_batch_size: int = 4096) -> None:
        if loss not in LOSSES:
            raise ZooError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
        self.loss_name = loss
        criterion, self.metric = LOSSES[loss]
        self.criterion = criterion()
        self.eval_batch_size = eval_batch_size

    # -- training ---------------------------------------------------------------------------
    def optimizer_for(self, model: nn.ModuleDict, variant: str) -> tuple[str | None, dict[str, Any]]:
        """The optimizer entry and settings for ``variant``.

        ``(None, {})``: the run's optimizer with its ``--set`` settings, the same for every variant.
        """
        return None, {}

    def configure_optimizers(self, model, make_optimizer):
        optimizers = {}
        for name in variants(model):
            entry, settings = self.optimizer_for(model, name)
            optimizers[name] = make_optimizer(model[name].parameters(), name=entry, **settings)
        return optimizers

    def step(self, model, batch, opt):
        x, y = batch
        losses = {}
        for name, net in model.items():
            loss = self.criterion(net(x), y)
            opt.backward(loss)
            opt.step(name)
            losses[f"loss_{name}"] = loss.detach()
        return losses

    # -- evaluation -------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, net: nn.Module, split: Any, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """One variant's outputs and the targets over a whole split, in evaluation mode."""
        was_training = net.training
        net.eval()
        tensors = getattr(split, "tensors", None)
        if tensors is None:
            samples = [split[i] for i in range(len(split))]
            tensors = (
                torch.stack([torch.as_tensor(s[0]) for s in samples]),
                torch.stack([torch.as_tensor(s[1]) for s in samples]),
            )
        x, y = tensors[0], tensors[1]
        outputs = [
            net(x[i : i + self.eval_batch_size].to(device)).cpu()
            for i in range(0, len(x), self.eval_batch_size)
        ]
        net.train(was_training)
        return torch.cat(outputs), y.cpu()

    def score(self, net: nn.Module, split: Any, device: Any) -> dict[str, float]:
        """The loss (and accuracy for classifiers) of one variant on one split."""
        out, y = self.predict(net, split, device)
        scores = {self.metric: float(self.criterion(out, y))}
        if self.loss_name == "cross_entropy":
            scores["accuracy"] = float((out.argmax(1) == y).float().mean())
        return scores

    def evaluate(self, model, data, device):
        metrics: dict[str, float] = {}
        for name, net in model.items():
            if data.eval is None:
                for key, value in self.score(net, data.train, device).items():
                    metrics[f"{key}_{name}"] = value
            else:
                for split_name, split in (("train", data.train), ("test", data.eval)):
                    for key, value in self.score(net, split, device).items():
                        metrics[f"{split_name}_{key}_{name}"] = value
        return metrics

    # -- figures ----------------------------------------------------------------------------
    def curves(
        self, history: list[dict[str, Any]], prefix: str, names: Iterable[str]
    ) -> dict[str, tuple[list, list]]:
        """``{variant: (steps, values)}`` for history columns ``<prefix><variant>``."""
        out = {}
        for name in names:
            points = [
                (row["step"], row[prefix + name]) for row in history if row.get(prefix + name) is not None
            ]
            if points:
                out[name] = ([p[0] for p in points], [p[1] for p in points])
        return out

    def figures(self, model, data, device, history, run_dir):
        """One panel of training loss per variant; a second of test loss when it was evaluated."""
        names = variants(model)
        train = self.curves(history, "loss_", names)
        test_prefix = f"test_{self.metric}_" if data.eval is not None else f"{self.metric}_"
        test = self.curves(history, test_prefix, names)
        if not train:
            return []
        plt = pyplot()
        panels = 2 if test else 1
        fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.2), squeeze=False)
        for name, (steps, values) in train.items():
            axes[0][0].plot(steps, values, label=name)
        axes[0][0].set(xlabel="step", ylabel=f"training {self.metric}", title="training loss per variant")
        if test:
            for name, (steps, values) in test.items():
                axes[0][1].plot(steps, values, "o-", ms=3, label=name)
            axes[0][1].set(xlabel="step", ylabel=test_prefix.rstrip("_"), title="evaluation per variant")
        for ax in axes[0]:
            ax.set_yscale("log")
            ax.legend()
        return [save_figure(fig, Path(run_dir) / self.figure)]
