"""Lesson 301: the 1-10-1 net fits the noisy parabola with the tutorial's recipe."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

import zoo_core
from zoo_core.cli import cli
from zoo_plugins.standard.fits import RegressionTrainer
from zoo_plugins.standard.nets import Net
from zoo_plugins.standard.supervised import Supervised

PNG = b"\x89PNG\r\n\x1a\n"


def test_quadratic_data():
    data = zoo_core.create_dataset("quadratic", seed=0)
    x, y = data.train.tensors
    assert x.shape == (100, 1) and y.shape == (100, 1)
    torch.testing.assert_close(x[:, 0], torch.linspace(-1, 1, 100))
    noise = y - x.pow(2)
    assert noise.min() >= 0 and noise.max() < 0.2
    assert 0.08 < noise.mean() < 0.12  # U(0, 1) * 0.2 has mean 0.1
    assert data.eval is None
    again = zoo_core.create_dataset("quadratic", seed=0).train.tensors[1]
    other = zoo_core.create_dataset("quadratic", seed=1).train.tensors[1]
    assert torch.equal(y, again) and not torch.equal(y, other)


def test_entry_recipe_is_the_tutorials():
    entry = zoo_core.get_model("regression")
    assert entry.defaults == {"n_feature": 1, "n_hidden": 10, "n_output": 1, "activation": "relu"}
    assert (entry.dataset, entry.optimizer, entry.trainer) == ("quadratic", "sgd", "regression")
    assert entry.recipe["lr"] == 0.2 and entry.recipe["steps"] == 200 and entry.recipe["batch_size"] is None
    assert entry.recipe["trainer"] == {"loss": "mse"}
    result = CliRunner().invoke(cli, ["info", "regression", "--kind", "model"])
    assert result.exit_code == 0, result.output
    assert (
        "301 regression" in result.output and "lr = 0.2" in result.output and "steps = 200" in result.output
    )


def test_class_built_net():
    net = Net()
    assert sorted(net.state_dict()) == ["hidden.bias", "hidden.weight", "predict.bias", "predict.weight"]
    assert sum(p.numel() for p in net.parameters()) == 31
    assert net(torch.zeros(7, 1)).shape == (7, 1)


def test_lesson_trainer_only_adds_the_figure():
    trainer = zoo_core.create_trainer("regression")
    assert isinstance(trainer, RegressionTrainer) and isinstance(trainer, Supervised)
    assert RegressionTrainer.loss is Supervised.loss
    assert RegressionTrainer.evaluate is Supervised.evaluate
    assert trainer.loss_name == "mse"


def test_full_default_run_learns(tmp_path):
    """The tutorial's whole recipe: 100 points, SGD lr 0.2, full batch, 200 steps."""
    result = zoo_core.train("regression", out=tmp_path / "run", device="cpu", quiet=True)
    assert result.step == 200
    assert result.config.loop.lr == 0.2 and result.config.loop.batch_size is None
    mse = result.metrics["eval_loss"]
    assert mse < 0.013
    first = result.history[0]["loss"]
    assert first > 5 * mse  # the loss clearly fell
    figure = result.run_dir / "regression.png"
    assert figure.read_bytes().startswith(PNG)
    assert "regression.png" in result.files

    # the saved weights rebuild the same model: same MSE on the same (seeded) data
    model = zoo_core.load_model(result.run_dir)
    x, y = zoo_core.create_dataset("quadratic", seed=0).train.tensors
    with torch.no_grad():
        again = torch.nn.functional.mse_loss(model(x), y).item()
    assert again == pytest.approx(mse, rel=1e-5)


def test_figure_skips_inputs_it_cannot_draw(tmp_path):
    trainer = zoo_core.create_trainer("regression")
    data = zoo_core.create_dataset("two-clusters", seed=0)  # 2-D inputs: no curve to draw
    model = zoo_core.create_model("regression", n_feature=2)
    assert list(trainer.figures(model, data, torch.device("cpu"), [], tmp_path)) == []
