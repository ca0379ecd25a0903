"""Lesson 503: the plain net overfits 20 points; the dropout net's train-test gap is narrower."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import zoo_core
from zoo_plugins.dropout.lesson import DropoutCompare, DropoutPair
from zoo_plugins.standard.compare import Compare

PNG = b"\x89PNG\r\n\x1a\n"


def test_data_fresh_noise_on_the_same_x():
    data = zoo_core.create_dataset("noisy-line", seed=0)
    (x, y), (tx, ty) = data.train.tensors, data.eval.tensors
    assert x.shape == (20, 1) and torch.equal(x, tx)
    torch.testing.assert_close(x[:, 0], torch.linspace(-1, 1, 20))
    assert not torch.equal(y, ty)
    assert 0.15 < (y - x).std() < 0.45 and 0.15 < (ty - x).std() < 0.45
    assert torch.equal(ty, zoo_core.create_dataset("noisy-line", seed=0).eval.tensors[1])


def test_two_variants_one_with_dropout():
    model = zoo_core.create_model("dropout")
    assert isinstance(model, nn.ModuleDict) and list(model) == ["plain", "dropout"]
    plain, dropped = model["plain"], model["dropout"]
    assert not any(isinstance(m, nn.Dropout) for m in plain.modules())
    assert [m.p for m in dropped.modules() if isinstance(m, nn.Dropout)] == [0.5, 0.5]
    assert [tuple(p.shape) for p in plain.parameters()] == [tuple(p.shape) for p in dropped.parameters()]
    assert sum(p.numel() for p in plain.parameters()) == 1 * 300 + 300 + 300 * 300 + 300 + 300 + 1
    x = torch.linspace(-1, 1, 20)[:, None]
    dropped.train()
    assert not torch.equal(dropped(x), dropped(x))  # random masks while training
    dropped.eval()
    assert torch.equal(dropped(x), dropped(x))  # off when evaluating
    assert DropoutPair(n_hidden=8, p=0.2)["dropout"][1].p == 0.2


def test_trainer_is_the_shared_comparison():
    trainer = zoo_core.create_trainer("dropout-compare")
    assert isinstance(trainer, DropoutCompare) and isinstance(trainer, Compare)
    assert DropoutCompare.step is Compare.step and DropoutCompare.evaluate is Compare.evaluate
    entry = zoo_core.get_model("dropout")
    assert (entry.dataset, entry.optimizer, entry.trainer) == ("noisy-line", "adam", "dropout-compare")
    assert entry.recipe["lr"] == 0.01 and entry.recipe["steps"] == 500 and entry.recipe["batch_size"] is None


def test_plain_overfits_dropout_narrows_the_gap(tmp_path):
    """300 steps of narrower (100-unit) nets: the tutorial's effect in about a second."""
    result = zoo_core.train(
        "dropout", steps=300, sets=["n_hidden=100"], out=tmp_path / "run", device="cpu", quiet=True
    )
    m = result.metrics
    gap_plain = m["test_mse_plain"] - m["train_mse_plain"]
    gap_dropout = m["test_mse_dropout"] - m["train_mse_dropout"]
    assert m["train_mse_plain"] < 0.03  # well below the noise variance, 0.09: it fits the noise
    assert m["test_mse_plain"] > 4 * m["train_mse_plain"]
    assert m["train_mse_dropout"] > 2 * m["train_mse_plain"]
    assert gap_dropout < 0.5 * gap_plain
    assert m["test_mse_dropout"] < m["test_mse_plain"]
    first = result.history[0]
    assert first["loss_plain"] > 5 * m["train_mse_plain"]  # it learned
    figure = result.run_dir / "dropout.png"
    assert figure.read_bytes().startswith(PNG) and "dropout.png" in result.files

    model = zoo_core.load_model(result.run_dir)  # eval mode: dropout off, outputs deterministic
    data = zoo_core.create_dataset("noisy-line", seed=0)
    tx, ty = data.eval.tensors
    with torch.no_grad():
        for name, net in model.items():
            mse = nn.functional.mse_loss(net(tx), ty).item()
            assert mse == pytest.approx(m[f"test_mse_{name}"], rel=1e-5)
