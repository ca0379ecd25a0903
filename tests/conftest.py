"""Shared fixtures: a tiny, fast plugin registered as a throwaway object (no entry point)."""

from __future__ import annotations

import os

import pytest

# The models under test are tiny: one thread is faster, and steady when other processes share the cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from zoo_core import Splits, Trainer, hookimpl  # noqa: E402

pytest_plugins = ("pytester",)  # runs a test session inside a test (tests/test_scaffold.py)


def toy_net(hidden: int = 8, activation: str = "tanh"):
    import torch

    from zoo_core.plugin.layers import activation as act

    return torch.nn.Sequential(torch.nn.Linear(1, hidden), act(activation), torch.nn.Linear(hidden, 1))


def toy_line(n: int = 64, slope: float = 2.0, seed: int = 0) -> Splits:
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g) * 2 - 1
    y = slope * x + 0.05 * torch.randn(n, 1, generator=g)
    return Splits(
        train=torch.utils.data.TensorDataset(x, y), eval=torch.utils.data.TensorDataset(x[:16], y[:16])
    )


class ToyStep(Trainer):
    """MSE regression with dropout-free, deterministic steps."""

    capturable = True

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    def loss(self, model, batch):
        x, y = batch
        return {"loss": self.weight * ((model(x) - y) ** 2).mean()}

    def evaluate(self, model, data, device):
        import torch

        x, y = (t.to(device) for t in data.evaluation.tensors)
        with torch.no_grad():
            return {"eval_mse": float(((model(x) - y) ** 2).mean())}


def toy_sgd(params, lr, momentum: float = 0.0):
    import torch

    return torch.optim.SGD(params, lr=lr, momentum=momentum)


class Toy:
    """A whole plugin as one object: what a third party would put in its module."""

    @hookimpl
    def register_models(registry):
        registry.add(
            "toy",
            factory=toy_net,
            summary="A 1-8-1 net",
            lesson="000 toy",
            tags=["test"],
            defaults={"hidden": 8, "activation": "tanh"},
            dataset="line",
            optimizer="sgd",
            trainer="mse",
            recipe={"lr": 0.1, "steps": 30, "batch_size": 16},
        )

    @hookimpl
    def register_datasets(registry):
        registry.add(
            "line", factory=toy_line, summary="y = slope * x + noise", defaults={"n": 64, "slope": 2.0}
        )

    @hookimpl
    def register_optimizers(registry):
        registry.add("sgd", factory=toy_sgd, summary="SGD", defaults={"momentum": 0.0})

    @hookimpl
    def register_trainers(registry):
        registry.add("mse", factory=ToyStep, summary="MSE step", defaults={"weight": 1.0})


@pytest.fixture
def toy_zoo(make_zoo):
    """A zoo holding only the toy plugin, current for the test."""
    return make_zoo(Toy)


@pytest.fixture(autouse=True)
def _runs_in_tmp(tmp_path, monkeypatch):
    """Runs without --out land in a temporary folder, never in the repository."""
    monkeypatch.setenv("ZOO_RUNS_DIR", str(tmp_path / "runs"))
