"""The MNIST dataset plugin: real IDX files through torchvision, data roots, and its error messages."""

from __future__ import annotations

import gzip
import subprocess
import sys

import pytest
import torch
from torchvision.datasets import MNIST

import zoo_core
from zoo_core import ZooError
from zoo_plugins.mnist import data as mnist_data
from zoo_plugins.mnist.trainer import DigitClassifier

#: files, folders and messages: the data loads to the same bytes on every kernel set
SAME_ON_EVERY_KERNEL = True

PNG = b"\x89PNG\r\n\x1a\n"


def test_entries():
    entry = zoo_core.get_dataset("mnist")
    assert entry.defaults == {"train_size": None, "eval_size": 2000, "download": True}
    trainer = zoo_core.get_trainer("mnist-classifier")
    assert trainer.defaults["loss"] == "cross_entropy"


def test_loads_idx_files_as_scaled_tensors(mnist_root, digit_maker):
    data = zoo_core.create_dataset("mnist", data_root=str(mnist_root))
    x, y = data.train.tensors
    assert x.shape == (400, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (400,) and y.dtype == torch.int64
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    images, labels = digit_maker(400, seed=0)  # what the fixture wrote for the training split
    torch.testing.assert_close(x[:, 0], torch.from_numpy(images).float() / 255)
    assert torch.equal(y, torch.from_numpy(labels).long())
    assert len(data.eval) == 100  # eval_size 2000 > 100 test images: all of them
    assert data.info["n_classes"] == 10 and data.info["input_shape"] == (1, 28, 28)


def test_sizes_cut_the_splits(mnist_root):
    data = zoo_core.create_dataset("mnist", data_root=str(mnist_root), train_size=50, eval_size=20)
    assert len(data.train) == 50 and len(data.eval) == 20
    full = zoo_core.create_dataset("mnist", data_root=str(mnist_root), eval_size=None)
    assert torch.equal(data.eval.tensors[0], full.eval.tensors[0][:20])  # the FIRST test images
    with pytest.raises(ZooError, match="positive"):
        zoo_core.create_dataset("mnist", data_root=str(mnist_root), train_size=0)


def test_data_root_order(tmp_path, monkeypatch):
    monkeypatch.delenv("ZOO_DATA_ROOT", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert mnist_data.resolve_root(None) == tmp_path / "cache" / "zoo" / "data"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mnist_data.resolve_root(None) == tmp_path / "home" / ".cache" / "zoo" / "data"
    monkeypatch.setenv("ZOO_DATA_ROOT", str(tmp_path / "env"))
    assert mnist_data.resolve_root(None) == tmp_path / "env"
    assert mnist_data.resolve_root(str(tmp_path / "flag")) == tmp_path / "flag"  # --data-root wins


def test_environment_variable_finds_the_files(mnist_root, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_ROOT", str(mnist_root))
    assert len(zoo_core.create_dataset("mnist").train) == 400


def _assert_where_to_put_them(message, raw):
    assert "\n" not in message
    assert str(raw) in message
    for name in mnist_data.FILES:
        assert name in message
    assert "--data-root" in message and "ZOO_DATA_ROOT" in message


def test_missing_files_without_download(tmp_path):
    with pytest.raises(ZooError) as err:
        zoo_core.create_dataset("mnist", data_root=str(tmp_path), download=False)
    _assert_where_to_put_them(str(err.value), tmp_path / "MNIST" / "raw")


def test_failed_download_says_where_the_files_go(tmp_path, monkeypatch):
    # every mirror is a local path that does not exist: the download fails without any network
    monkeypatch.setattr(MNIST, "mirrors", [(tmp_path / "no-mirror").as_uri() + "/"])
    with pytest.raises(ZooError) as err:
        zoo_core.create_dataset("mnist", data_root=str(tmp_path / "root"))
    _assert_where_to_put_them(str(err.value), tmp_path / "root" / "MNIST" / "raw")
    assert "download failed" in str(err.value)


def test_gzipped_files_are_unpacked(tmp_path, make_mnist, mnist_root):
    raw = make_mnist(tmp_path, n_train=30, n_test=10) / "MNIST" / "raw"
    for name in mnist_data.FILES:
        path = raw / name
        (raw / f"{name}.gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
    data = zoo_core.create_dataset("mnist", data_root=str(tmp_path), download=False)
    assert len(data.train) == 30 and len(data.eval) == 10


def test_damaged_file_is_one_clear_error(tmp_path, make_mnist):
    raw = make_mnist(tmp_path, n_train=30, n_test=10) / "MNIST" / "raw"
    (raw / "t10k-images-idx3-ubyte").write_bytes(b"not an idx file")
    with pytest.raises(ZooError, match="cannot read the MNIST test files"):
        zoo_core.create_dataset("mnist", data_root=str(tmp_path), download=False)


def test_classifier_figure_shows_predictions(mnist_root, tmp_path):
    data = zoo_core.create_dataset("mnist", data_root=str(mnist_root))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    trainer = DigitClassifier(n_show=12)
    paths = trainer.figures(model, data, torch.device("cpu"), [], tmp_path)
    assert [p.name for p in paths] == ["predictions.png"]
    assert paths[0].read_bytes().startswith(PNG)
    assert DigitClassifier(n_show=0).figures(model, data, torch.device("cpu"), [], tmp_path) == []


def test_plugin_modules_stay_light():
    code = (
        "import sys, zoo_plugins.mnist, zoo_plugins.cnn, zoo_plugins.rnn_classifier, "
        "zoo_plugins.autoencoder; assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "damage, why",
    [
        (lambda data: gzip.compress(data)[: len(gzip.compress(data)) // 2], "it is truncated"),
        (lambda data: b"\x1f\x8b\x08\x00garbage, not deflate" + data[:40], "not a gzip file"),
        (lambda data: b"plain text, no gzip magic", "not a gzip file"),
    ],
)
def test_a_damaged_gz_is_one_line_naming_it_and_leaves_nothing(tmp_path, make_mnist, damage, why):
    raw = make_mnist(tmp_path, n_train=30, n_test=10) / "MNIST" / "raw"
    name = "train-images-idx3-ubyte"
    (raw / f"{name}.gz").write_bytes(damage((raw / name).read_bytes()))
    (raw / name).unlink()
    before = sorted(p.name for p in raw.iterdir())
    with pytest.raises(ZooError, match=why) as err:
        zoo_core.create_dataset("mnist", data_root=str(tmp_path), download=False)
    assert str(raw / f"{name}.gz") in str(err.value) and "\n" not in str(err.value)
    assert sorted(p.name for p in raw.iterdir()) == before  # no .tmp left in the user's folder


def test_a_truncated_gz_through_the_cli_is_not_aborted(tmp_path, make_mnist):
    raw = make_mnist(tmp_path, n_train=30, n_test=10) / "MNIST" / "raw"
    name = "t10k-labels-idx1-ubyte"
    (raw / f"{name}.gz").write_bytes(gzip.compress((raw / name).read_bytes())[:-12])
    (raw / name).unlink()
    proc = subprocess.run(
        [sys.executable, "-m", "zoo_core", "train", "cnn", "--steps", "1", "--data-root", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Aborted" not in proc.stderr
    assert f"{name}.gz: damaged archive (it is truncated)" in proc.stderr


def test_a_failed_download_leaves_no_folders_or_files(tmp_path, monkeypatch):
    monkeypatch.setattr(MNIST, "mirrors", [(tmp_path / "no-mirror").as_uri() + "/"])
    with pytest.raises(ZooError, match="download failed"):
        zoo_core.create_dataset("mnist", data_root=str(tmp_path / "root"))
    assert not (tmp_path / "root").exists()
    (tmp_path / "mine" / "MNIST" / "raw").mkdir(parents=True)
    (tmp_path / "mine" / "MNIST" / "raw" / "notes.txt").write_text("the user's")
    with pytest.raises(ZooError, match="download failed"):
        zoo_core.create_dataset("mnist", data_root=str(tmp_path / "mine"))
    assert [p.name for p in (tmp_path / "mine" / "MNIST" / "raw").iterdir()] == ["notes.txt"]


def test_a_data_root_one_level_too_deep_names_the_folder_to_give(tmp_path, make_mnist):
    make_mnist(tmp_path, n_train=10, n_test=5)
    for deep in (tmp_path / "MNIST" / "raw", tmp_path / "MNIST"):
        with pytest.raises(
            ZooError,
            match=f"one level too deep; give the folder that holds MNIST/raw/: --data-root {tmp_path}$",
        ):
            zoo_core.create_dataset("mnist", data_root=str(deep))
        assert sorted(p.name for p in tmp_path.iterdir()) == ["MNIST"]  # nothing downloaded below it
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "train-images-idx3-ubyte").write_bytes(
        (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").read_bytes()
    )
    with pytest.raises(
        ZooError, match="holds MNIST files, but zoo reads them from ROOT/MNIST/raw/; move them to"
    ):
        zoo_core.create_dataset("mnist", data_root=str(loose))


def test_the_digits_size_the_models_that_read_them(mnist_root, tmp_path):
    data = zoo_core.create_dataset("mnist", data_root=str(mnist_root))
    assert data.implies == {
        "n_classes": 10,
        "input_size": 28,
        "n_inputs": 784,
        "in_channels": 1,
        "image_size": 28,
        "classes": [str(d) for d in range(10)],
    }
    result = zoo_core.train(
        "rnn-classifier", steps=1, data_root=str(mnist_root), device="cpu", out=tmp_path / "run"
    )
    assert result.config.implied == {"n_classes": 10, "input_size": 28}  # its settings only
    kept = zoo_core.train(
        "cnn", steps=1, sets=["n_classes=12"], data_root=str(mnist_root), device="cpu", out=tmp_path / "cnn"
    )
    assert kept.config.model_params["n_classes"] == 12 and "n_classes" not in kept.config.implied
