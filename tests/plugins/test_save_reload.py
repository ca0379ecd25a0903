"""Lesson 304: train, save both ways, reload both ways, identical predictions; dead nets are named."""

from __future__ import annotations

import torch
from click.testing import CliRunner
from torch import nn

import zoo_core
from zoo_core.cli import cli
from zoo_plugins.save_reload.lesson import Net, SaveReloadTrainer, unit_activity
from zoo_plugins.standard.optimizers import sgd
from zoo_plugins.standard.supervised import Supervised

PNG = b"\x89PNG\r\n\x1a\n"


# With the tutorial's lr 0.5, seed 32 switches every ReLU off (4 of seeds 0-99 do: 32, 66, 71, 88).
DEAD_SEED = 32


def test_entry_is_the_tutorials():
    entry = zoo_core.get_model("save-reload")
    assert (entry.dataset, entry.optimizer, entry.trainer) == ("quadratic", "sgd", "save-reload")
    assert entry.recipe["lr"] == 0.5 and entry.recipe["steps"] == 100 and entry.recipe["batch_size"] is None
    net = zoo_core.create_model("save-reload")
    assert isinstance(net, nn.Sequential)
    assert sorted(net.state_dict()) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    assert isinstance(zoo_core.create_trainer("save-reload"), Supervised)
    assert SaveReloadTrainer.loss is Supervised.loss


def test_unit_activity_on_a_hand_made_dead_net():
    x = torch.linspace(-1, 1, 100)[:, None]
    net = Net()
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[0].bias.fill_(-5.0)  # pre-activations all below -4: every ReLU off on [-1, 1]
    activity = unit_activity(net, x)
    assert activity["dead"] and activity["active_units"] == 0 and activity["output_range"] == 0.0
    with torch.no_grad():
        net[0].bias[3] = 0.0  # one unit fires for x > 0
    activity = unit_activity(net, x)
    assert not activity["dead"] and activity["active_units"] == 1 and activity["output_range"] > 0


def test_dead_net_detection_over_seeds():
    """The tutorial's recipe, seeds 20-39: a net is flagged dead exactly when its output is constant."""
    flagged = []
    for seed in range(20, 40):
        torch.manual_seed(seed)  # as the shared loop seeds before building the model
        net = Net()
        x, y = zoo_core.create_dataset("quadratic", seed=seed).train.tensors
        opt = sgd(net.parameters(), lr=0.5)
        for _ in range(100):
            loss = nn.functional.mse_loss(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        activity = unit_activity(net, x)
        with torch.no_grad():
            constant = bool((net(x) == net(x)[0]).all())
        assert activity["dead"] == constant, seed
        if activity["dead"]:
            flagged.append(seed)
        else:
            assert loss.item() < 0.07, seed  # alive nets fit (a few only on one side of the parabola)
    assert flagged == [DEAD_SEED]


def test_trainer_reports_dead_in_metrics(tmp_path):
    dead = zoo_core.train("save-reload", seed=DEAD_SEED, out=tmp_path / "dead", device="cpu", quiet=True)
    assert dead.metrics["dead"] == 1.0 and dead.metrics["active_units"] == 0.0
    alive = zoo_core.train("save-reload", seed=0, out=tmp_path / "alive", device="cpu", quiet=True)
    assert alive.metrics["dead"] == 0.0 and alive.metrics["active_units"] >= 3
    assert alive.metrics["eval_loss"] < 0.01 < 0.05 < alive.history[0]["loss"]
    assert (alive.run_dir / "save-reload.png").read_bytes().startswith(PNG)


def test_command_trains_saves_reloads_identically(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["save-reload", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.count("bit-identical") == 2 and "DIFFERENT" not in text
    assert "with trust" in text and "wrote it moments ago" in text
    for fmt in ("safetensors", "state-dict pickle", "whole-model pickle"):
        assert fmt in text
    assert "dead net" not in text.lower()
    for name in ("model.safetensors", "model.pt", "save-reload-3ways.png", "save-reload.png"):
        assert (out / name).exists(), name
    assert (out / "save-reload-3ways.png").read_bytes().startswith(PNG)

    reloaded = zoo_core.load_model(out)
    x, y = zoo_core.create_dataset("quadratic", seed=0).train.tensors
    with torch.no_grad():
        assert nn.functional.mse_loss(reloaded(x), y).item() < 0.01


def test_command_says_when_the_net_is_dead(tmp_path):
    result = CliRunner().invoke(
        cli, ["save-reload", "--out", str(tmp_path / "run"), "--seed", str(DEAD_SEED)]
    )
    assert result.exit_code == 0, result.output
    assert "DEAD NET" in result.output and "WARNING: dead net" in result.output
    assert result.output.count("bit-identical") == 2  # identical reloads, but not a fit
