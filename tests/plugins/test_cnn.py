"""Lesson 401 CNN: the tutorial's network and recipe, learning tiny generated digits end to end."""

from __future__ import annotations

import torch
from click.testing import CliRunner

import zoo_core
from zoo_core.cli import cli
from zoo_plugins.cnn.lesson import CNN

PNG = b"\x89PNG\r\n\x1a\n"


def test_entry_recipe_is_the_tutorials():
    entry = zoo_core.get_model("cnn")
    assert entry.defaults == {"channels": [16, 32], "kernel_size": 5, "activation": "relu", "n_classes": 10}
    assert (entry.dataset, entry.optimizer, entry.trainer) == ("mnist", "adam", "mnist-classifier")
    assert entry.recipe == {"lr": 0.001, "epochs": 1, "batch_size": 50}


def test_model_is_the_tutorials():
    model = zoo_core.create_model("cnn")
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (1, 16, (5, 5), (2, 2)),
        (16, 32, (5, 5), (2, 2)),
    ]
    assert (model.out.in_features, model.out.out_features) == (32 * 7 * 7, 10)
    assert sum(p.numel() for p in model.parameters()) == 416 + 12832 + 15690
    x = torch.rand(3, 1, 28, 28)
    assert model(x).shape == (3, 10) and model.features(x).shape == (3, 1568)
    small = CNN(channels=[8, 12], kernel_size=3)
    assert small(x).shape == (3, 10) and small.out.in_features == 12 * 7 * 7


def test_training_learns_saves_and_reloads(mnist_root, tmp_path):
    result = zoo_core.train(
        "cnn", epochs=4, data_root=str(mnist_root), out=tmp_path / "run", device="cpu", quiet=True
    )
    assert result.step == 4 * 8  # 400 images in batches of 50
    losses = [row["loss"] for row in result.history]
    assert losses[0] > 2.0 and losses[-1] < 0.6 * losses[0]
    assert result.metrics["accuracy"] >= 0.6  # chance is 0.1
    figure = result.run_dir / "predictions.png"
    assert figure.read_bytes().startswith(PNG)

    model = zoo_core.load_model(result.run_dir)
    assert isinstance(model, CNN) and not model.training
    data = zoo_core.create_dataset("mnist", data_root=str(mnist_root))
    x, y = data.eval.tensors
    with torch.no_grad():
        scores = model(x)
    again = zoo_core.load_model(result.run_dir / "model.safetensors")
    with torch.no_grad():
        assert torch.equal(again(x), scores)
    accuracy = float((scores.argmax(1) == y).float().mean())
    loss = float(torch.nn.functional.cross_entropy(scores, y))
    assert accuracy == result.metrics["accuracy"]
    assert abs(loss - result.metrics["eval_loss"]) < 1e-5


def test_command_line_takes_the_data_root(mnist_root, tmp_path):
    out = tmp_path / "cli-run"
    result = CliRunner().invoke(
        cli,
        [
            "train",
            "cnn",
            "--data-root",
            str(mnist_root),
            "--steps",
            "3",
            "--set",
            "train_size=100",
            "--set",
            "channels=4,8",
            "--device",
            "cpu",
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / "predictions.png").exists() and (out / "model.safetensors").exists()
    assert zoo_core.load_model(out).out.in_features == 8 * 7 * 7
