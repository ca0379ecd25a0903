"""Lesson 302: the 2-10-2 net separates two Gaussian clusters with the tutorial's recipe."""

from __future__ import annotations

import pytest
import torch

import zoo_core
from zoo_plugins.standard.fits import ClassificationTrainer
from zoo_plugins.standard.supervised import Supervised

PNG = b"\x89PNG\r\n\x1a\n"


def test_two_clusters_data():
    data = zoo_core.create_dataset("two-clusters", seed=0)
    x, y = data.train.tensors
    assert x.shape == (200, 2) and x.dtype == torch.float32
    assert y.dtype == torch.long and y[:100].eq(0).all() and y[100:].eq(1).all()
    assert torch.allclose(x[:100].mean(0), torch.full((2,), 2.0), atol=0.3)
    assert torch.allclose(x[100:].mean(0), torch.full((2,), -2.0), atol=0.3)
    assert torch.allclose(x[:100].std(0), torch.ones(2), atol=0.2)
    assert data.eval is None  # evaluated on the training points, as in the tutorial
    assert torch.equal(x, zoo_core.create_dataset("two-clusters", seed=0).train.tensors[0])
    assert not torch.equal(x, zoo_core.create_dataset("two-clusters", seed=3).train.tensors[0])


def test_entry_recipe_is_the_tutorials():
    entry = zoo_core.get_model("classification")
    assert entry.defaults == {"n_feature": 2, "n_hidden": 10, "n_output": 2, "activation": "relu"}
    assert (entry.dataset, entry.optimizer, entry.trainer) == ("two-clusters", "sgd", "classification")
    assert entry.recipe["lr"] == 0.02 and entry.recipe["steps"] == 100 and entry.recipe["batch_size"] is None
    trainer = zoo_core.create_trainer("classification")
    assert isinstance(trainer, ClassificationTrainer) and trainer.loss_name == "cross_entropy"
    assert ClassificationTrainer.loss is Supervised.loss


def test_full_default_run_learns(tmp_path):
    """The tutorial's whole recipe: 2 x 100 points, SGD lr 0.02, full batch, 100 steps."""
    result = zoo_core.train("classification", out=tmp_path / "run", device="cpu", quiet=True)
    assert result.step == 100
    assert result.metrics["accuracy"] >= 0.99
    assert result.metrics["eval_loss"] < 0.5 * result.history[0]["loss"]
    assert (result.run_dir / "classification.png").read_bytes().startswith(PNG)

    model = zoo_core.load_model(result.run_dir)
    x, y = zoo_core.create_dataset("two-clusters", seed=0).train.tensors
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    assert accuracy == pytest.approx(result.metrics["accuracy"])


def test_untrained_net_is_not_already_right():
    """The threshold means something: a fresh net is far from 99% on average over seeds."""
    x, y = zoo_core.create_dataset("two-clusters", seed=0).train.tensors
    accs = []
    for seed in range(10):
        torch.manual_seed(seed)
        with torch.no_grad():
            accs.append((zoo_core.create_model("classification")(x).argmax(1) == y).float().mean().item())
    assert sum(accs) / len(accs) < 0.9
