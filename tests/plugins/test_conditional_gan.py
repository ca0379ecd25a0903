"""Lesson 406 conditional GAN: told a class (a > 1.5 or not), the generator paints curves of it."""

from __future__ import annotations

import torch
from click.testing import CliRunner

import zoo_core
from zoo_core.cli import cli
from zoo_plugins.gan.conditional import (
    ConditionalGAN,
    ConditionalGANTrainer,
    class_of,
    label_of,
)
from zoo_plugins.gan.lesson import GANTrainer, estimate_a, in_bounds, paint_points

PNG = b"\x89PNG\r\n\x1a\n"
STEPS = 1000  # a short run at a faster learning rate than the recipe's 1e-4 (10,000 steps)


def test_entry_recipe_is_the_tutorials():
    entry = zoo_core.get_model("conditional-gan")
    assert entry.defaults == {"n_ideas": 5, "art_components": 15, "n_hidden": 128, "activation": "relu"}
    assert (entry.dataset, entry.optimizer, entry.trainer) == (
        "artist-curves-labelled",
        "adam",
        "conditional-gan",
    )
    assert entry.recipe == {"lr": 1e-4, "steps": 10_000, "batch_size": 64, "shuffle": False}


def test_labelled_curves():
    data = zoo_core.create_dataset("artist-curves-labelled", seed=0, n=6400)
    real, labels = data.train.tensors
    assert real.shape == (6400, 15) and labels.shape == (6400, 1) and labels.dtype == torch.float32
    x = paint_points(15)
    assert float(in_bounds(real, x)) == 1.0
    a = estimate_a(real, x)
    assert torch.equal(labels[:, 0], (a > 1.5).float())
    assert torch.equal(class_of(real, x), labels)  # the class test recovers every real label
    assert 0.45 < float(labels.mean()) < 0.55
    assert torch.equal(label_of(torch.tensor([1.2, 1.5, 1.7])), torch.tensor([0.0, 0.0, 1.0]))
    gan = zoo_core.create_dataset("artist-curves", seed=0, n=64)
    assert torch.equal(gan.train.tensors[0], real[:64])  # the same curves as the plain GAN's


def test_model_takes_the_label():
    model = zoo_core.create_model("conditional-gan")
    assert isinstance(model, ConditionalGAN)
    assert model.generator[0].in_features == 6 and model.discriminator[0].in_features == 16
    z, c = torch.zeros(4, 5), torch.tensor([[0.0], [0.0], [1.0], [1.0]])
    assert model(z, c).shape == (4, 15)
    assert model.judge(torch.zeros(4, 15), c).shape == (4, 1)
    assert model.sample(6).shape == (6, 15)
    assert issubclass(ConditionalGANTrainer, GANTrainer) and ConditionalGANTrainer.capturable


def test_training_paints_the_class_asked_for(tmp_path):
    untrained = _untrained_metrics()
    result = zoo_core.train(
        "conditional-gan",
        steps=STEPS,
        lr=5e-4,
        sets=[f"dataset.n={64 * STEPS}"],
        out=tmp_path / "run",
        device="cpu",
        quiet=True,
    )
    m = result.metrics
    assert 0.4 < untrained["class_accuracy"] < 0.6  # an untrained G ignores the label
    assert m["class_accuracy"] > 0.65 and m["class_accuracy"] > untrained["class_accuracy"] + 0.15
    assert m["in_bounds"] > 0.7 and m["in_bounds"] > untrained["in_bounds"] + 0.4
    assert 0.3 < m["d_real"] < 0.7
    for name in ("paintings.png", "scores.png"):
        assert (result.run_dir / name).read_bytes().startswith(PNG)

    model = zoo_core.load_model(result.run_dir)
    assert isinstance(model, ConditionalGAN)
    data = zoo_core.create_dataset("artist-curves-labelled", seed=0, n=64)
    again = ConditionalGANTrainer().evaluate(model, data, "cpu")
    for key in ("class_accuracy", "in_bounds", "d_real", "d_score"):
        assert again[key] == m[key]

    out = tmp_path / "ones.png"
    cmd = CliRunner().invoke(
        cli, ["sample", "conditional-gan", str(result.run_dir), "--n", "8", "--label", "1", "--out", str(out)]
    )
    assert cmd.exit_code == 0, cmd.output
    assert out.read_bytes().startswith(PNG) and "curves in the class asked for" in cmd.output


def _untrained_metrics():
    torch.manual_seed(0)
    model = ConditionalGAN()
    return ConditionalGANTrainer().evaluate(
        model, zoo_core.create_dataset("artist-curves-labelled", seed=0, n=64), "cpu"
    )
