"""Lesson 406 GAN: the generator learns to paint curves between the artist's bounds."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

import zoo_core
from zoo_core.cli import cli
from zoo_plugins.gan.lesson import GAN, GANTrainer, bounds, estimate_a, in_bounds, paint_points

PNG = b"\x89PNG\r\n\x1a\n"
STEPS = 600  # the default recipe is 10,000; the generator is inside the bounds well before 600


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gan") / "run"
    return zoo_core.train(
        "gan", steps=STEPS, sets=[f"dataset.n={64 * STEPS}"], out=out, device="cpu", quiet=True
    )


def test_hooks_module_stays_light():
    code = "import sys, zoo_plugins.gan, zoo_plugins.rnn_regressor; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_entry_recipe_is_the_tutorials():
    entry = zoo_core.get_model("gan")
    assert entry.defaults == {"n_ideas": 5, "art_components": 15, "n_hidden": 128, "activation": "relu"}
    assert (entry.dataset, entry.optimizer, entry.trainer) == ("artist-curves", "adam", "gan")
    assert entry.recipe == {"lr": 1e-4, "steps": 10_000, "batch_size": 64, "shuffle": False}
    assert "in-place" in GANTrainer.__doc__ or "inplace" in GANTrainer.__doc__


def test_model_shapes():
    model = zoo_core.create_model("gan")
    assert isinstance(model, GAN)
    assert [m.__class__.__name__ for m in model.generator] == ["Linear", "ReLU", "Linear"]
    assert [m.__class__.__name__ for m in model.discriminator] == ["Linear", "ReLU", "Linear", "Sigmoid"]
    assert model(torch.zeros(3, 5)).shape == (3, 15)
    p = model.discriminator(torch.zeros(3, 15))
    assert p.shape == (3, 1) and bool(((p > 0) & (p < 1)).all())
    assert model.sample(4).shape == (4, 15)


def test_artist_curves():
    data = zoo_core.create_dataset("artist-curves", seed=0, n=6400)
    (real,) = data.train.tensors
    assert real.shape == (6400, 15) and data.eval.tensors[0].shape == (1000, 15)
    x = paint_points(15)
    torch.testing.assert_close(x, torch.linspace(-1, 1, 15))
    assert float(in_bounds(real, x)) == 1.0  # every real curve lies between x^2 and 2x^2+1
    a = estimate_a(real, x)
    assert 1.0 <= float(a.min()) and float(a.max()) <= 2.0 and abs(float(a.mean()) - 1.5) < 0.02
    torch.testing.assert_close(real, a[:, None] * x**2 + a[:, None] - 1)
    # held-out curves do not depend on n; everything repeats with the seed
    again = zoo_core.create_dataset("artist-curves", seed=0, n=64)
    assert torch.equal(again.eval.tensors[0], data.eval.tensors[0])
    assert torch.equal(again.train.tensors[0], real[:64])
    other = zoo_core.create_dataset("artist-curves", seed=1, n=64)
    assert not torch.equal(other.train.tensors[0], real[:64])
    low, high = bounds(x)
    assert torch.equal(low, x**2) and torch.equal(high, 2 * x**2 + 1)


def test_step_returns_detached_scalars():
    torch.manual_seed(0)
    model, trainer = GAN(), GANTrainer()
    opts = trainer.configure_optimizers(model, lambda params: torch.optim.Adam(params, lr=1e-4))
    assert set(opts) == {"generator", "discriminator"}
    g_before = [p.clone() for p in model.generator.parameters()]
    d_before = [p.clone() for p in model.discriminator.parameters()]
    out = trainer.step(model, (torch.rand(64, 15),), zoo_core.Optimization(opts))
    assert set(out) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(v.ndim == 0 and not v.requires_grad for v in out.values())
    assert all(not torch.equal(a, b) for a, b in zip(g_before, model.generator.parameters(), strict=True))
    assert all(not torch.equal(a, b) for a, b in zip(d_before, model.discriminator.parameters(), strict=True))
    assert GANTrainer.capturable


def test_training_learns(run):
    untrained = GANTrainer().evaluate(
        _seeded_untrained(), zoo_core.create_dataset("artist-curves", seed=0, n=64), "cpu"
    )
    m = run.metrics
    assert run.step == STEPS
    assert untrained["in_bounds"] < 0.35
    assert m["in_bounds"] > 0.7 and m["in_bounds"] > untrained["in_bounds"] + 0.4
    assert 0.35 < m["d_real"] < 0.65  # D can no longer tell real from fake
    assert abs(m["d_score"] + 2 * math.log(2)) < 0.1
    for name in ("paintings.png", "scores.png"):
        assert (run.run_dir / name).read_bytes().startswith(PNG)
        assert name in run.files


def _seeded_untrained():
    torch.manual_seed(0)  # what the shared loop does before building the model
    return GAN()


def test_reload_gives_the_same_model(run):
    model = zoo_core.load_model(run.run_dir)
    assert isinstance(model, GAN) and not model.training
    again = GANTrainer().evaluate(model, zoo_core.create_dataset("artist-curves", seed=0, n=64), "cpu")
    for key in ("d_real", "d_score", "in_bounds"):
        assert again[key] == run.metrics[key]
    z = torch.randn(8, 5)
    assert torch.equal(model(z), zoo_core.load_model(run.run_dir / "model.safetensors")(z))


def test_sample_command(run, tmp_path):
    out = tmp_path / "samples.png"
    result = CliRunner().invoke(
        cli, ["sample", "gan", str(run.run_dir), "--n", "6", "--out", str(out), "--values"]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(PNG)
    assert "drew 6 curves" in result.output and "points between x^2 and 2x^2+1" in result.output
    lines = result.output.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("a_hat"))
    rows = [[float(v) for v in line.split()] for line in lines[head + 1 : head + 7]]
    assert len(rows) == 6 and all(len(row) == 16 for row in rows)  # a_hat, then 15 points
    assert lines[head + 7].startswith("figure:")

    default = CliRunner().invoke(cli, ["sample", "gan", str(run.run_dir), "--n", "3"])
    assert default.exit_code == 0, default.output
    assert (run.run_dir / "samples.png").exists()

    # without RUN: the latest run of the model under the runs folder
    latest = tmp_path / "runs" / "gan" / "20300101-000000-000-abcd"  # ZOO_RUNS_DIR is tmp_path/runs
    shutil.copytree(run.run_dir, latest)
    found = CliRunner().invoke(cli, ["sample", "gan", "--n", "2"])
    assert found.exit_code == 0, found.output
    assert str(latest) in found.output and (latest / "samples.png").exists()

    wrong = CliRunner().invoke(cli, ["sample", "conditional-gan", str(run.run_dir)])
    assert wrong.exit_code != 0 and "not 'gan:conditional-gan'" in wrong.output
    label = CliRunner().invoke(cli, ["sample", "gan", str(run.run_dir), "--label", "1"])
    assert label.exit_code != 0 and "conditional" in label.output
