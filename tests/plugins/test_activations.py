"""Lesson 203: the activation figure, and ``--set activation=...`` on every MLP-style model."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from torch import nn

import zoo_core
from zoo_core.cli import cli
from zoo_core.config.resolver import resolve
from zoo_plugins.activations.lesson import PANELS, curves

PNG = b"\x89PNG\r\n\x1a\n"
MLP_MODELS = ["regression", "classification", "mlp", "regression-seq", "classification-seq"]


def test_curves_match_the_formulas():
    x, ys = curves()
    assert x.shape == (200,) and x[0] == -5 and x[-1] == 5
    assert [name for name, _ in PANELS] == ["relu", "sigmoid", "tanh", "softplus"]
    torch.testing.assert_close(ys["relu"], x.clamp(min=0))
    torch.testing.assert_close(ys["sigmoid"], 1 / (1 + torch.exp(-x)))
    torch.testing.assert_close(ys["tanh"], torch.tanh(x))
    torch.testing.assert_close(ys["softplus"], torch.log1p(torch.exp(x)))


def test_command_writes_figure(tmp_path):
    out = tmp_path / "figs" / "act.png"
    result = CliRunner().invoke(cli, ["activations", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    assert out.read_bytes().startswith(PNG)


def test_command_default_path_is_printed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["activations"])
    assert result.exit_code == 0, result.output
    assert "activations.png" in result.output
    assert (tmp_path / "activations.png").read_bytes().startswith(PNG)


@pytest.mark.parametrize("name", MLP_MODELS)
def test_activation_is_a_hyperparameter(name):
    assert zoo_core.get_model(name).defaults["activation"] == "relu"
    config = resolve(name, sets=["activation=tanh"])
    assert config.model_params["activation"] == "tanh"
    model = zoo_core.create_model(name, **config.model_params)
    kinds = {type(m) for m in model.modules()}
    assert nn.Tanh in kinds and nn.ReLU not in kinds


@pytest.mark.parametrize("name", ["regression", "classification", "mlp"])
def test_train_with_another_activation(name, tmp_path):
    result = zoo_core.train(
        name, steps=20, sets=["activation=tanh"], out=tmp_path / "run", device="cpu", quiet=True
    )
    saved = json.loads((result.run_dir / "config.json").read_text())["config"]
    assert saved["model_params"]["activation"] == "tanh"
    reloaded = zoo_core.load_model(result.run_dir)
    assert any(isinstance(m, nn.Tanh) for m in reloaded.modules())
    assert not any(isinstance(m, nn.ReLU) for m in reloaded.modules())
    losses = [row["loss"] for row in result.history]
    assert losses[-1] < losses[0]


def test_unknown_activation_lists_choices():
    with pytest.raises(zoo_core.ZooError, match="tanh"):
        zoo_core.create_model("regression", activation="swishy")
