"""torchvision's classifiers as a plugin: a torch-free index, models sized by their data, pretrained
fine-tuning from a planted weights file, and every family's smallest member trained, saved, reloaded."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import zoo_core
from tests.plugins.conftest import fake_digits, write_idx_images, write_idx_labels
from zoo_core.testing import invoke
from zoo_plugins.vision import index

#: structure, files and messages; outputs are compared with the same model's own, on the same kernels
SAME_ON_EVERY_KERNEL = True

ROWS = index.read()["models"]
VERSIONS_AGREE = index.read()["torchvision"] == (index.installed_version() or "").split("+")[0]


def smallest_of_each_family() -> list[str]:
    """The architecture with the fewest parameters in every family: what the structural test trains."""
    return sorted(index.smallest_by_family(ROWS).values())


@pytest.mark.skipif(not VERSIONS_AGREE, reason="index.json is for another torchvision; the plugin lists live")
def test_the_index_is_the_installed_torchvisions():
    from torchvision import models

    assert index.build() == index.read(), f"index.json is stale: {index.REGENERATE}"
    assert [r["name"] for r in ROWS] == sorted(models.list_models(module=models))
    resnet18 = next(r for r in ROWS if r["name"] == "resnet18")
    assert (resnet18["params"], resnet18["acc1"], resnet18["family"]) == (11689512, 69.758, "resnet")


def test_listing_the_plugin_never_imports_torch():
    code = (
        "import sys, io, contextlib\nfrom zoo_core.cli import cli\nout = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try:\n        cli.main(['list', 'models', '--plugin', 'vision', '--json'], prog_name='zoo')\n"
        "    except SystemExit as e:\n        assert e.code in (0, None), e.code\n"
        "heavy = [m for m in ('torch', 'torchvision') if m in sys.modules]\n"
        "assert not heavy, heavy\nprint(out.getvalue())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    assert sorted(e["name"] for e in listed) == [r["name"] for r in ROWS] and len(listed) >= 80
    vit = next(e for e in listed if e["name"] == "vit_b_16")
    assert "81.1%" in vit["summary"] and "resized up" in vit["summary"] and "pretrained" in vit["tags"]


def test_another_torchvision_lists_live_and_says_once_how_to_regenerate(monkeypatch, capsys):
    monkeypatch.setattr(index, "installed_version", lambda: "0.0.1")
    monkeypatch.setattr(index, "_said", [])
    monkeypatch.setattr(index, "describe", lambda name: {"name": name, "family": index.family(name)})
    first, second = index.load(), index.load()
    from torchvision import models

    assert (
        [r["name"] for r in first] == sorted(models.list_models(module=models)) == [r["name"] for r in second]
    )
    err = capsys.readouterr().err
    assert err.count("regenerate it with 'python -m zoo_plugins.vision.index'") == 1 and "0.0.1" in err


def test_filters_by_name_family_and_weights():
    def names(*args: str) -> list[str]:
        return [line.split()[0] for line in invoke("list", "models", *args).output.splitlines()[2:]]

    assert names("resnet*") == ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
    assert names("--tag", "resnext") == ["resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d"]
    assert len(names("--plugin", "vision", "--tag", "pretrained")) == sum(
        bool(r.get("weights")) for r in ROWS
    )
    assert set(names("--tag", "swin", "--tag", "pretrained")) == {
        f"swin_{v}{size}" for v in ("", "v2_") for size in "tsb"
    }


def test_zoo_check_vision_builds_each_familys_smallest_and_stands_it_in_for_the_rest():
    from zoo_core.author.contract import plan

    todo = [(kind, item) for kind, item in plan(["vision"]) if kind in ("entry", "stood-in")]
    checked = sorted(item.name for kind, item in todo if kind == "entry" and item.kind == "model")
    assert checked == smallest_of_each_family()
    assert "resnet18" in checked and "mobilenet_v3_small" in checked and "vit_b_16" in checked
    by_name = {item.name: item for kind, item in todo if item.kind == "model"}
    assert len(by_name) == len(ROWS)
    assert by_name["resnet152"].checked_as == "resnet18" and by_name["vit_h_14"].checked_as == "vit_b_16"
    assert all(by_name[e.checked_as].checked_as is None for e in by_name.values() if e.checked_as)


def test_architectures_without_normalization_and_transformers_train_at_a_tenth_of_the_rate():
    """zoo check found AlexNet and VGG11 could not lower a fixed batch's loss in 20 Adam steps at 1e-3;
    ViT and Swin from scratch reached 0.53 and 0.67 in one MNIST epoch at 1e-3, 0.92 and 0.95 at 1e-4."""
    slow = {r["name"] for r in ROWS if zoo_core.get_model(r["name"]).recipe["lr"] == 1e-4}
    transformers = {r["name"] for r in ROWS if r["family"] in ("vit", "swin")}
    assert len(transformers) == 11
    assert slow == {"alexnet", "vgg11", "vgg13", "vgg16", "vgg19"} | transformers
    assert {zoo_core.get_model(r["name"]).recipe["lr"] for r in ROWS if r["name"] not in slow} == {1e-3}


def test_the_model_takes_its_size_from_the_data(mnist_root, tmp_path):
    result = zoo_core.train(
        "resnet18",
        steps=1,
        batch_size=2,
        sets=["train_size=4", "eval_size=4"],
        data_root=str(mnist_root),
        out=tmp_path / "run",
        device="cpu",
        quiet=True,
    )
    implied = result.config.implied
    assert (implied["n_classes"], implied["in_channels"], implied["image_size"]) == (10, 1, 28)
    model = zoo_core.load_model(result.run_dir)
    assert model.net.fc.out_features == 10 and model.classes == [str(d) for d in range(10)]
    with pytest.raises(zoo_core.ZooError, match="built for 3 channels; leave in_channels to the data"):
        zoo_core.train("resnet18", steps=1, sets=["in_channels=3", "train_size=4"], data_root=str(mnist_root),
                       out=tmp_path / "bad", device="cpu", quiet=True)  # fmt: skip
    assert not (tmp_path / "bad").exists()


BY_NAME = {r["name"]: r for r in ROWS}
VITS = [r["name"] for r in ROWS if r["family"] == "vit"]


@given(name=st.sampled_from(VITS), size=st.integers(1, 1000))
def test_a_vit_from_scratch_is_built_for_the_image_size_in_whole_patches(name, size):
    patch = index.vit_patch(name)
    built = index.smallest_input(BY_NAME[name], size, pretrained=False)
    assert patch and built % patch == 0 and size <= built < size + patch


def test_only_transformers_from_scratch_leave_their_weights_size():
    sizes = {
        (name, pretrained): index.smallest_input(BY_NAME[name], 28, pretrained)
        for name in ("vit_b_16", "vit_h_14", "swin_t", "swin_v2_t", "maxvit_t", "inception_v3", "resnet18")
        for pretrained in (False, True)
    }
    assert sizes == {
        ("vit_b_16", False): 32, ("vit_b_16", True): 224,
        ("vit_h_14", False): 28, ("vit_h_14", True): 518,
        ("swin_t", False): 32, ("swin_t", True): 224,
        ("swin_v2_t", False): 32, ("swin_v2_t", True): 256,
        ("maxvit_t", False): 224, ("maxvit_t", True): 224,  # its windows need multiples of 224 px
        ("inception_v3", False): 75, ("inception_v3", True): 75,  # pooling: the architecture's own limit
        ("resnet18", False): 1, ("resnet18", True): 1,
    }  # fmt: skip


def test_a_vit_from_scratch_sees_every_image_at_its_one_size():
    torch.manual_seed(0)
    model = zoo_core.create_model("vit_b_16", n_classes=3, in_channels=1, image_size=28).eval()
    assert model.net.image_size == 32 and model.net.encoder.pos_embedding.shape[1] == 1 + 2 * 2
    with torch.no_grad():
        for side in (28, 32, 45):
            assert model(torch.rand(2, 1, side, side)).shape == (2, 3)
    pretrained = zoo_core.create_model("vit_b_16", n_classes=3, in_channels=1, image_size=28, pretrained=True)
    assert pretrained.net.image_size == 224  # the weights' grid (they are read on first use, not here)


def batch_norms(model: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def test_batch_norm_keeps_pytorchs_momentum_unless_set():
    """torchvision's MobileNetV3 averages at 0.01: after one short epoch its statistics were still the
    initial ones (one MNIST-split epoch: 0.09-0.10 test accuracy; 0.89-0.91 at 0.1)."""
    own = zoo_core.create_model("mobilenet_v3_small", n_classes=3, bn_momentum=0.01)
    assert len(batch_norms(own)) > 10 and {m.momentum for m in batch_norms(own)} == {0.01}
    with pytest.raises(zoo_core.ZooError, match=r"bn_momentum=0.0: give a number in \(0, 1\]"):
        zoo_core.create_model("mobilenet_v3_small", n_classes=3, bn_momentum=0.0)


@pytest.mark.parametrize("name", smallest_of_each_family())
def test_every_family_trains_a_step_saves_reloads_and_exports(name, tmp_path):
    """The smallest member of each family on grey 28x28 images: sized, resized, trained, reloaded.

    Three images (batch norm over two at 1x1 pixels is degenerate); one for MaxViT, resized to 224
    pixels, and VGG, which have no batch norm there, to keep the test quick."""
    torch.manual_seed(0)
    model = zoo_core.create_model(name, n_classes=3, in_channels=1, image_size=28)
    assert all(m.momentum == 0.1 for m in batch_norms(model))  # PyTorch's, whatever the architecture's
    n = 1 if name.startswith(("maxvit", "vgg")) else 3
    x, y = torch.rand(n, 1, 28, 28), torch.tensor([0, 2, 1])[:n]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)  # batch norm over 2 images: a small step
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss) and any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    model.eval()
    from safetensors.torch import load_file, save_file

    save_file(model.state_dict(), tmp_path / "w.safetensors")
    again = zoo_core.create_model(name, n_classes=3, in_channels=1, image_size=28)
    again.load_state_dict(load_file(tmp_path / "w.safetensors"))
    again.eval()
    with torch.no_grad():
        out = model(x[:1])  # (running statistics of 3 images at 1x1 pixels may be degenerate: NaN equals NaN)
        torch.testing.assert_close(again(x[:1]), out, rtol=0, atol=0, equal_nan=True)
        assert out.shape == (1, 3)
    if name in ("resnet18", "squeezenet1_1"):  # export is the same code for all: two families
        program = torch.export.export(model, (x,))
        torch.testing.assert_close(program.module()(x), model(x))


def write_folder(root: Path, n: int = 6, side: int = 40) -> Path:
    """Two classes of generated images: red squares and blue squares, on noise."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for k, cls in enumerate(("blue", "red")):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 60, size=(side, side, 3)).astype(np.uint8)
            pixels[8:32, 8:32, 2 if k == 0 else 0] = 230
            Image.fromarray(pixels).save(root / cls / f"{i}.png")
    return root


@pytest.fixture
def planted(tmp_path, monkeypatch):
    """torchvision's mobilenet_v3_small weights file planted in torch's cache (random, same keys)."""
    from torchvision import models

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    row = next(r for r in ROWS if r["name"] == "mobilenet_v3_small")
    path = tmp_path / "torch" / "hub" / "checkpoints" / row["file"]
    path.parent.mkdir(parents=True)
    torch.manual_seed(1)
    state = models.mobilenet_v3_small(weights=None).state_dict()
    torch.save(state, path)
    return path, state


def test_pretrained_fine_tuning_on_an_image_folder(planted, tmp_path):
    path, state = planted
    root = write_folder(tmp_path / "photos")
    sets = [f"root={root}", "size=32", "pretrained=true", "freeze=backbone", "val_fraction=0.25"]
    result = zoo_core.train(
        "mobilenet_v3_small",
        dataset="image-folder",
        steps=2,
        batch_size=4,
        sets=sets,
        out=tmp_path / "run",
        device="cpu",
        quiet=True,
    )
    model = zoo_core.load_model(result.run_dir)
    assert model.classes == ["blue", "red"] and model.net.classifier[3].out_features == 2
    for key in ("features.0.0.weight", "classifier.0.weight"):  # loaded, and frozen
        assert torch.equal(model.net.state_dict()[key], state[key])
    shown = zoo_core.predict(result.run_dir, [str(root / "red" / "0.png")], options={"top_k": 2})
    assert {t["class"] for t in shown.records[0]["top"]} == {"blue", "red"}
    assert shown.text.splitlines()[0].split()[:2] == ["INPUT", "CLASS"]
    path.unlink()
    with pytest.raises(
        zoo_core.ZooError, match=rf"{path.name} are not in {path.parent}.*put it there"
    ) as caught:
        zoo_core.train(
            "mobilenet_v3_small",
            dataset="image-folder",
            steps=1,
            sets=sets,
            out=tmp_path / "offline",
            device="cpu",
        )
    assert "\n" not in str(caught.value) and not (tmp_path / "offline").exists()
    assert zoo_core.load_model(result.run_dir).classes == ["blue", "red"]  # a saved run needs no weights file


@pytest.mark.parametrize("fmt", ["pt2", "onnx"])
def test_a_vision_run_exports_and_the_export_answers_as_the_model_does(fmt, tmp_path):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    from zoo_core.serve.export import export

    root = write_folder(tmp_path / "photos")
    sets = [f"root={root}", "size=32", "val_fraction=0.25"]
    result = zoo_core.train("resnet18", dataset="image-folder", steps=1, batch_size=4, sets=sets,
                            out=tmp_path / "run", device="cpu", quiet=True)  # fmt: skip
    done = export(result.run_dir, fmt)
    assert done.model == "vision:resnet18" and done.dynamic_batch and done.max_difference < 1e-3
    assert Path(done.path).is_file() and Path(done.path).parent == result.run_dir
    if fmt == "pt2":  # the program reads [0, 1] images and normalizes them itself, as the run did
        program = torch.export.load(done.path).module()
        model = zoo_core.load_model(result.run_dir).eval()
        x = torch.rand(3, 3, 32, 32)
        torch.testing.assert_close(program(x), model(x), rtol=1e-4, atol=1e-4)


def test_a_weights_file_of_another_model_is_refused(planted, tmp_path):
    path, _ = planted
    torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    model = zoo_core.create_model("mobilenet_v3_small", pretrained=True, n_classes=2)
    with pytest.raises(zoo_core.ZooError, match="does not hold this architecture's weights .*missing"):
        model(torch.rand(1, 3, 32, 32))


def test_fashion_mnist_and_cifar10_read_their_real_formats(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for split, n in (("train", 20), ("t10k", 10)):
        images, labels = fake_digits(n, 0)
        write_idx_images(raw / f"{split}-images-idx3-ubyte", images)
        write_idx_labels(raw / f"{split}-labels-idx1-ubyte", labels)
    fashion = zoo_core.create_dataset("fashion-mnist", data_root=str(tmp_path), download=False)
    assert (
        fashion.train.tensors[0].shape == (20, 1, 28, 28) and fashion.implies["classes"][0] == "T-shirt/top"
    )
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), "labels": [0, 1, 2, 9]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": classes}, protocol=2))
    cifar = zoo_core.create_dataset("cifar10", data_root=str(tmp_path), download=False, augment=True)
    assert len(cifar.train) == 20 and cifar.train[0][0].shape == (3, 32, 32)
    assert cifar.implies == {"n_classes": 10, "in_channels": 3, "image_size": 32, "classes": classes}
    (folder / "test_batch").write_bytes(pickle.dumps({"data": subprocess.Popen, "labels": []}))
    with pytest.raises(zoo_core.ZooError, match="not a CIFAR-10 batch .*refused subprocess.Popen"):
        zoo_core.create_dataset("cifar10", data_root=str(tmp_path), download=False)
