"""Lesson 404 autoencoder: a 3-number code, its reconstruction trainer and its two figures."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import zoo_core
from zoo_plugins.autoencoder import lesson
from zoo_plugins.autoencoder.lesson import AutoEncoder, AutoEncoderTrainer

PNG = b"\x89PNG\r\n\x1a\n"


def test_entry_recipe_is_the_tutorials():
    entry = zoo_core.get_model("autoencoder")
    assert entry.defaults == {"hidden": [128, 64, 12], "code_size": 3, "activation": "tanh", "n_inputs": 784}
    assert (entry.dataset, entry.optimizer, entry.trainer) == ("mnist", "adam", "autoencoder")
    assert entry.recipe == {"lr": 0.005, "epochs": 10, "batch_size": 64}


def test_model_is_the_tutorials():
    model = zoo_core.create_model("autoencoder")
    linears = [(m.in_features, m.out_features) for m in model.encoder if isinstance(m, torch.nn.Linear)]
    assert linears == [(784, 128), (128, 64), (64, 12), (12, 3)]
    linears = [(m.in_features, m.out_features) for m in model.decoder if isinstance(m, torch.nn.Linear)]
    assert linears == [(3, 12), (12, 64), (64, 128), (128, 784)]
    kinds = [type(m).__name__ for m in model.decoder]
    assert kinds == ["Linear", "Tanh", "Linear", "Tanh", "Linear", "Tanh", "Linear", "Sigmoid"]
    assert [type(m).__name__ for m in model.encoder].count("Tanh") == 3  # none after the code
    with torch.no_grad():
        code, decoded = model(torch.rand(5, 1, 28, 28))
    assert code.shape == (5, 3) and decoded.shape == (5, 784)
    assert 0 <= float(decoded.min()) and float(decoded.max()) <= 1
    torch.testing.assert_close(model.decode(model.encode(torch.ones(2, 784))), model(torch.ones(2, 784))[1])


def test_step_ignores_labels_and_stays_on_the_device():
    torch.manual_seed(0)
    model, trainer = AutoEncoder(), AutoEncoderTrainer()
    assert trainer.capturable
    opts = zoo_core.Optimization({"main": torch.optim.Adam(model.parameters(), lr=5e-3)})
    x = torch.rand(8, 1, 28, 28)
    a = trainer.step(model, (x, torch.zeros(8, dtype=torch.long)), opts)
    assert a["loss"].ndim == 0 and not a["loss"].requires_grad
    torch.manual_seed(0)
    model2 = AutoEncoder()
    opts2 = zoo_core.Optimization({"main": torch.optim.Adam(model2.parameters(), lr=5e-3)})
    b = trainer.step(model2, (x, torch.full((8,), 7)), opts2)
    assert torch.equal(a["loss"], b["loss"])


def test_training_learns_saves_and_reloads(mnist_root, tmp_path):
    data = zoo_core.create_dataset("mnist", data_root=str(mnist_root))
    x = data.eval.tensors[0].flatten(1)
    mean_image = float(((x - data.train.tensors[0].flatten(1).mean(0)) ** 2).mean())

    # With tanh the net first sits for ~300 steps on the mean picture (on real MNIST too) before the
    # code starts to matter; ELU leaves that plateau at once, so this short run swaps it in.
    result = zoo_core.train(
        "autoencoder",
        steps=150,
        sets=["activation=elu"],
        data_root=str(mnist_root),
        out=tmp_path / "run",
        device="cpu",
        quiet=True,
    )
    assert result.config.model_params["activation"] == "elu"
    losses = [row["loss"] for row in result.history]
    assert losses[-1] < 0.3 * losses[0]
    # well below the best constant picture: the 3 numbers carry which digit it was and where
    assert result.metrics["eval_loss"] < 0.7 * mean_image
    for name in ("reconstructions.png", "codes.png"):
        assert (result.run_dir / name).read_bytes().startswith(PNG)

    model = zoo_core.load_model(result.run_dir)
    assert isinstance(model, AutoEncoder) and not model.training
    with torch.no_grad():
        _, decoded = model(x)
    assert abs(float(((decoded - x) ** 2).mean()) - result.metrics["eval_loss"]) < 1e-6


def _captured(monkeypatch):
    figures = []
    monkeypatch.setattr(lesson, "save_figure", lambda fig, path: figures.append(fig) or path)
    return figures


def test_codes_are_drawn_in_3d(monkeypatch, tmp_path):
    figures = _captured(monkeypatch)
    code, labels = torch.randn(60, 3), torch.arange(60) % 10
    lesson.codes(code, labels, tmp_path / "codes.png")
    (ax,) = figures[0].axes
    assert ax.name == "3d"  # added to the figure, not a detached Axes3D(fig)
    assert len(ax.collections) == 10
    assert sum(len(c.get_offsets()) for c in ax.collections) == 60
    for dims in (2, 1):  # smaller codes fall back to flat scatters
        lesson.codes(torch.randn(20, dims), torch.arange(20) % 10, tmp_path / f"codes{dims}.png")
        assert figures[-1].axes[0].name == "rectilinear"


def test_real_files_are_written(tmp_path):
    images = torch.rand(4, 1, 28, 28)
    path = lesson.reconstructions(images, images.flatten(1), tmp_path / "r.png")
    assert path.read_bytes().startswith(PNG)
    path = lesson.codes(torch.randn(30, 3), torch.arange(30) % 10, tmp_path / "c.png")
    assert path.read_bytes().startswith(PNG)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=300), min_size=1, max_size=6))
def test_every_input_gets_its_own_reconstruction_file_of_a_valid_name(names):
    from zoo_plugins.autoencoder.predict import output_name

    used: set[str] = set()
    files = [output_name(f"{folder}/{name}.png", used) for folder, name in enumerate(names)]
    assert len({f.casefold() for f in files}) == len(files)  # x/seven.png and y/seven.png: two files
    for file in files:
        assert "/" not in file and "\0" not in file and not file.startswith(".")
        assert len(file.encode("utf-8", "surrogateescape")) <= 255
