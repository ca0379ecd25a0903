"""Lesson 504: with a bad start the plain deep tanh net is stuck; the batch-norm net learns."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import zoo_core
from zoo_plugins.batchnorm.lesson import BatchNormCompare, layer_values
from zoo_plugins.standard.compare import Compare

PNG = b"\x89PNG\r\n\x1a\n"


def test_data():
    data = zoo_core.create_dataset("wide-parabola", seed=0)
    (x, y), (tx, ty) = data.train.tensors, data.eval.tensors
    assert x.shape == (2000, 1) and tx.shape == (200, 1) and ty.shape == (200, 1)
    torch.testing.assert_close(x[:, 0], torch.linspace(-7, 10, 2000))
    torch.testing.assert_close(tx[:, 0], torch.linspace(-7, 10, 200))
    assert 1.8 < (y - x.pow(2) + 5).std() < 2.2
    assert data.info["label_variance"] == pytest.approx(float(y.var()))


def test_nets_and_the_tutorials_init():
    model = zoo_core.create_model("batchnorm")
    assert isinstance(model, nn.ModuleDict) and list(model) == ["plain", "bn"]
    plain, bn = model["plain"], model["bn"]
    assert not any(isinstance(m, nn.BatchNorm1d) for m in plain.modules())
    norms = [m for m in bn.modules() if isinstance(m, nn.BatchNorm1d)]
    assert [m.num_features for m in norms] == [1] + [10] * 8 and all(m.momentum == 0.5 for m in norms)
    linears = [m for m in plain.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 9 and all(isinstance(m, nn.Tanh) for m in plain if not isinstance(m, nn.Linear))
    weights = torch.cat([m.weight.flatten() for m in linears])
    assert 0.08 < weights.std() < 0.12
    assert all(torch.all(m.bias == -0.2) for m in linears)
    pre, post = layer_values(bn, torch.linspace(-7, 10, 50)[:, None])
    assert len(pre) == len(post) == 8


def test_trainer_is_the_shared_comparison():
    assert isinstance(zoo_core.create_trainer("batchnorm-compare"), Compare)
    assert BatchNormCompare.step is Compare.step and Compare.manual
    entry = zoo_core.get_model("batchnorm")
    assert entry.recipe["lr"] == 0.03 and entry.recipe["epochs"] == 12 and entry.recipe["batch_size"] == 64


def test_plain_stuck_bn_learns(tmp_path):
    """Three of the tutorial's 12 epochs already separate the two."""
    result = zoo_core.train("batchnorm", epochs=3, out=tmp_path / "run", device="cpu", quiet=True)
    m = result.metrics
    variance = zoo_core.create_dataset("wide-parabola", seed=0).info["label_variance"]
    assert m["test_mse_plain"] > 0.9 * variance  # no better than predicting the mean
    assert m["test_mse_bn"] < 0.7 * variance
    assert m["test_mse_bn"] < 0.7 * m["test_mse_plain"]
    per_epoch = [row for row in result.history if "test_mse_bn" in row]
    assert [row["epoch"] for row in per_epoch] == [1, 2, 3]  # tested after every epoch
    assert per_epoch[-1]["test_mse_bn"] < per_epoch[0]["test_mse_bn"]
    for name in ("batchnorm.png", "activations.png"):
        assert (result.run_dir / name).read_bytes().startswith(PNG)

    model = zoo_core.load_model(result.run_dir)  # running statistics are saved too
    tx, ty = zoo_core.create_dataset("wide-parabola", seed=0).eval.tensors
    with torch.no_grad():
        for name, net in model.items():
            assert nn.functional.mse_loss(net(tx), ty).item() == pytest.approx(
                m[f"test_mse_{name}"], rel=1e-5
            )
