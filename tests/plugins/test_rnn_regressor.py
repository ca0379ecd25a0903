"""Lesson 403 RNN regressor: predicting cos(t) from sin(t), window by window, with a carried state."""

from __future__ import annotations

import math
import os
import signal

import pytest
import torch

import zoo_core
from zoo_core.training.loop import Interrupted
from zoo_plugins.rnn_regressor.lesson import RNNRegressor, RNNRegressorTrainer, Windows, windows_of

PNG = b"\x89PNG\r\n\x1a\n"


def test_entry_recipe_is_the_tutorials():
    entry = zoo_core.get_model("rnn-regressor")
    assert entry.defaults == {"input_size": 1, "hidden_size": 32, "num_layers": 1, "nonlinearity": "tanh"}
    assert (entry.dataset, entry.optimizer, entry.trainer) == ("sine-windows", "adam", "rnn-regressor")
    assert entry.recipe == {"lr": 0.02, "epochs": 1, "batch_size": 1, "shuffle": False}
    assert RNNRegressorTrainer.data_parallel is False


def test_windows_are_the_tutorials():
    data = zoo_core.create_dataset("sine-windows", seed=0)
    x, y = data.train.tensors
    assert x.shape == (100, 10, 1) and y.shape == (100, 10, 1)
    for k in (0, 1, 57):  # np.linspace(k*pi, (k+1)*pi, 10, endpoint=False)
        t = torch.linspace(k * math.pi, (k + 1) * math.pi, 11, dtype=torch.float64)[:-1]
        torch.testing.assert_close(x[k, :, 0], torch.sin(t).float(), atol=1e-6, rtol=0)
        torch.testing.assert_close(y[k, :, 0], torch.cos(t).float(), atol=1e-6, rtol=0)


def test_dynamic_windows_follow_the_seed():
    data = zoo_core.create_dataset("sine-windows", seed=0, dynamic=True)
    assert isinstance(data.train, Windows) and len(data.train) == 100
    lengths = [len(x) for x, _ in windows_of(data.train)]
    assert set(lengths) == {10, 20, 30}  # 1-3 pi units, 10 points each
    assert lengths == data.info["lengths"]
    # consecutive: the whole stream is sin/cos of t = i * pi / 10
    x = torch.cat([x for x, _ in windows_of(data.train)])[:, 0]
    t = torch.arange(len(x), dtype=torch.float64) * math.pi / 10
    torch.testing.assert_close(x, torch.sin(t).float(), atol=1e-5, rtol=0)
    same = zoo_core.create_dataset("sine-windows", seed=0, dynamic=True).info["lengths"]
    other = zoo_core.create_dataset("sine-windows", seed=1, dynamic=True).info["lengths"]
    assert same == lengths and other != lengths


def test_model_applies_the_linear_layer_at_every_step():
    model = RNNRegressor()
    assert model.rnn.batch_first and model.rnn.hidden_size == 32
    x = torch.randn(1, 10, 1)
    y, h = model(x)
    assert y.shape == (1, 10, 1) and h.shape == (1, 1, 32)
    r_out, _ = model.rnn(x)
    looped = torch.stack([model.out(r_out[:, i, :]) for i in range(10)], dim=1)  # the tutorial's loop
    torch.testing.assert_close(y, looped)


def test_trainer_carries_and_restores_the_state():
    torch.manual_seed(0)
    model, trainer = RNNRegressor(), RNNRegressorTrainer()
    opts = zoo_core.Optimization({"main": torch.optim.Adam(model.parameters(), lr=0.02)})
    assert trainer.state_dict() == {"seen": 0}
    x, y = torch.randn(1, 10, 1), torch.randn(1, 10, 1)
    out = trainer.step(model, (x, y), opts)
    assert out["loss"].ndim == 0 and not out["loss"].requires_grad
    h = trainer.state_dict()["h"]
    assert h.shape == (1, 1, 32) and not h.requires_grad and h.abs().sum() > 0
    fresh = RNNRegressorTrainer()
    assert trainer.state_dict()["seen"] == 1
    fresh.load_state_dict({"h": h.clone(), "seen": 1})
    assert torch.equal(fresh.h, trainer.h) and fresh.seen == 1


def test_default_run_learns(tmp_path):
    result = zoo_core.train("rnn-regressor", out=tmp_path / "run", device="cpu", quiet=True)
    assert result.step == 100  # 100 windows, one epoch
    losses = [row["loss"] for row in result.history]
    assert len(losses) == 100
    first, last = sum(losses[:10]) / 10, sum(losses[-20:]) / 20
    assert first > 0.2 and last < 0.05 and last < first / 10
    assert result.metrics["mse"] < 0.05
    figure = result.run_dir / "prediction.png"
    assert figure.read_bytes().startswith(PNG) and "prediction.png" in result.files

    model = zoo_core.load_model(result.run_dir)
    data = zoo_core.create_dataset("sine-windows", seed=0)
    again = RNNRegressorTrainer().evaluate(model, data, "cpu")
    assert again["mse"] == result.metrics["mse"]


def test_dynamic_run_learns(tmp_path):
    result = zoo_core.train(
        "rnn-regressor", sets=["dynamic=true"], out=tmp_path / "run", device="cpu", quiet=True
    )
    assert result.config.dataset_params["dynamic"] is True and result.step == 100
    assert result.metrics["mse"] < 0.05
    losses = [row["loss"] for row in result.history]
    assert sum(losses[-20:]) / 20 < sum(losses[:10]) / 10 / 10
    assert (result.run_dir / "prediction.png").read_bytes().startswith(PNG)


def test_resume_carries_the_hidden_state(tmp_path):
    """Interrupted after 40 windows and resumed, the run ends exactly where an unbroken one does."""
    whole = zoo_core.train("rnn-regressor", out=tmp_path / "whole", device="cpu", quiet=True)

    def interrupt(step):
        if step == 40:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted):
        zoo_core.train("rnn-regressor", out=tmp_path / "cut", device="cpu", quiet=True, on_step=interrupt)
    resumed = zoo_core.train("rnn-regressor", resume=tmp_path / "cut", device="cpu", quiet=True)
    assert resumed.step == 100
    assert resumed.metrics["mse"] == whole.metrics["mse"]
    assert (resumed.run_dir / "prediction.png").read_bytes().startswith(PNG)  # windows 41-100 only
