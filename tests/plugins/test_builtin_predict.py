"""``zoo predict`` on every built-in lesson, through the command line, checked against the model itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import zoo_core
from zoo_core.cli import cli

#: each answer is checked against the same model's own outputs, computed by the same kernels
SAME_ON_EVERY_KERNEL = True

MNIST_MODELS = {"cnn", "rnn-classifier", "autoencoder"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist_root):
    """``trained(name)``: a run of ``name`` after a few CPU steps (made once per module)."""
    root = tmp_path_factory.mktemp("predict-runs")
    runs: dict[str, Path] = {}

    def make(name: str) -> Path:
        if name not in runs:
            extra = {"data_root": str(mnist_root)} if name in MNIST_MODELS else {}
            result = zoo_core.train(name, steps=3, out=root / name, device="cpu", quiet=True, **extra)
            runs[name] = result.run_dir
        return runs[name]

    return make


def predict(*args):
    result = CliRunner().invoke(cli, ["predict", *map(str, args)])
    return result


def predict_json(*args):
    result = predict(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["predictions"]


def outputs_of(run: Path, *inputs: torch.Tensor):
    model = zoo_core.load_model(run)
    with torch.no_grad():
        return model(*inputs)


# -- numbers -----------------------------------------------------------------------------------------
def test_regression_prints_y_for_each_x(trained):
    run = trained("regression")
    result = predict(run, "0.5", "-0.3")
    assert result.exit_code == 0, result.output
    header, _, *rows = result.output.splitlines()
    assert header.split() == ["X", "Y"]
    expected = outputs_of(run, torch.tensor([[0.5], [-0.3]]))[:, 0].tolist()
    shown = [float(r.split()[1]) for r in rows]
    assert [r.split()[0] for r in rows] == ["0.5", "-0.3"]
    assert shown == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", ["regression-seq", "mlp", "save-reload"])
def test_other_regression_lessons_read_numbers(trained, name):
    run = trained(name)
    records = predict_json(run, "0.25", "1")
    expected = outputs_of(run, torch.tensor([[0.25], [1.0]]))[:, 0].tolist()
    assert [r["x"] for r in records] == [0.25, 1.0]
    assert [r["y"] for r in records] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("name", ["dropout", "batchnorm", "optimizers"])
def test_comparisons_show_every_nets_y(trained, name):
    run = trained(name)
    (record,) = predict_json(run, "0.5")
    model = zoo_core.load_model(run)
    with torch.no_grad():
        expected = {k: float(net(torch.tensor([[0.5]]))) for k, net in model.items()}
    assert record["y"] == pytest.approx(expected, rel=1e-6)
    result = predict(run, "0.5")
    assert result.output.splitlines()[0].split()[1:] == [w for k in expected for w in ("Y", k)]


@pytest.mark.parametrize("name", ["classification", "classification-seq"])
def test_classification_points(trained, name):
    run = trained(name)
    records = predict_json(run, "2,1.5", "-1,-2")
    probs = outputs_of(run, torch.tensor([[2.0, 1.5], [-1.0, -2.0]])).softmax(1)
    assert [r["x"] for r in records] == [[2.0, 1.5], [-1.0, -2.0]]
    assert [r["class"] for r in records] == probs.argmax(1).tolist()
    torch.testing.assert_close(torch.tensor([r["probabilities"] for r in records]), probs, atol=1e-6, rtol=0)
    table = predict(run, "2,1.5").output.splitlines()
    assert table[0].split() == ["POINT", "CLASS", "P(0)", "P(1)"]


def test_rnn_regressor_reads_one_sequence(trained):
    run = trained("rnn-regressor")
    records = predict_json(run, "0", "0.31", "0.59")
    y, _ = outputs_of(run, torch.tensor([0.0, 0.31, 0.59]).reshape(1, 3, 1))
    assert [r["step"] for r in records] == [0, 1, 2]
    assert [r["y"] for r in records] == pytest.approx(y[0, :, 0].tolist(), abs=1e-6)


@pytest.mark.parametrize("name", ["gan", "conditional-gan"])
def test_gans_point_to_zoo_sample(trained, name):
    result = predict(trained(name), "1")
    assert result.exit_code == 2
    assert f"use 'zoo sample {name} RUN'" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["abc"], "expected numbers (x), got 'abc'"),
        (["1,2"], "expected 1 number per input (x), got '1,2'"),
        (["nan"], "expected finite numbers"),
        (["1e39"], "expected finite numbers within float32's range"),  # not 'inf nan'
        ([], "give one or more inputs of 1 number (x)"),
        (["--topk", "3"], "no such option: --topk"),
    ],
)
def test_bad_numbers_are_one_line(trained, args, message):
    result = predict(trained("regression"), *args)
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_classification_wants_pairs(trained):
    result = predict(trained("classification"), "0.5")
    assert result.exit_code == 2 and "expected 2 numbers per input (x,y), got '0.5'" in result.output


# -- digits ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digit_files(tmp_path_factory):
    """Two test digits as MNIST-style PNGs, as dark-on-light larger PNGs, and as one .npy."""
    from tests.plugins.conftest import fake_digits

    root = tmp_path_factory.mktemp("digits")
    images, labels = fake_digits(2, seed=7)
    for i, image in enumerate(images):
        Image.fromarray(image).save(root / f"mnist{i}.png")
        Image.fromarray(255 - image).resize((56, 56), Image.Resampling.NEAREST).save(root / f"paper{i}.png")
    np.save(root / "digits.npy", images)
    return root, torch.from_numpy(images).float().div(255).unsqueeze(1)


@pytest.mark.parametrize("name", ["cnn", "rnn-classifier"])
def test_digit_models_read_pngs_with_top_k(trained, digit_files, name):
    run = trained(name)
    root, pixels = digit_files
    records = predict_json(run, root / "mnist0.png", root / "mnist1.png", "--top-k", "4")
    probs = outputs_of(run, pixels).softmax(1)
    for record, p in zip(records, probs, strict=True):
        assert record["class"] == int(p.argmax())
        assert record["probability"] == pytest.approx(float(p.max()), abs=1e-6)
        assert [t["class"] for t in record["top"]] == p.topk(4).indices.tolist()
    # the same digits drawn dark on light paper at another size: inverted and resized to MNIST's
    paper = predict_json(run, root / "paper0.png", root / "paper1.png")
    assert [r["class"] for r in paper] == [r["class"] for r in records]
    assert [r["probability"] for r in paper] == pytest.approx([r["probability"] for r in records], abs=0.02)
    npy = predict_json(run, root / "digits.npy")
    assert [r["input"] for r in npy] == [f"{root / 'digits.npy'}[0]", f"{root / 'digits.npy'}[1]"]
    assert [r["probability"] for r in npy] == pytest.approx([r["probability"] for r in records], abs=1e-6)
    table = predict(run, root / "mnist0.png", "--top-k", "2").output.splitlines()
    assert table[0].split() == ["INPUT", "DIGIT", "P", "TOP"] and table[2].count(":") == 2


def test_autoencoder_writes_the_reconstruction_png(trained, digit_files, tmp_path):
    run = trained("autoencoder")
    root, pixels = digit_files
    (record,) = predict_json(run, root / "mnist0.png", "--out", tmp_path / "out")
    code, flat = outputs_of(run, pixels[:1])
    path = Path(record["reconstruction"])
    assert path == tmp_path / "out" / "mnist0-reconstruction.png"
    written = np.asarray(Image.open(path))
    assert written.shape == (28, 28)
    assert np.array_equal(written, (flat.reshape(28, 28) * 255).round().to(torch.uint8).numpy())
    assert record["code"] == pytest.approx(code[0].tolist(), abs=1e-5)
    assert record["mse"] == pytest.approx(float((flat - pixels[:1].reshape(1, -1)).pow(2).mean()), abs=1e-6)


def test_two_inputs_with_one_file_name_get_two_reconstructions(trained, digit_files, tmp_path):
    root, _ = digit_files
    for folder, image in (("x", "mnist0.png"), ("y", "mnist1.png")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "seven.png").write_bytes((root / image).read_bytes())
    records = predict_json(
        trained("autoencoder"),
        tmp_path / "x" / "seven.png",
        tmp_path / "y" / "seven.png",
        "--out",
        tmp_path / "o",
    )
    paths = [Path(r["reconstruction"]) for r in records]
    assert [p.name for p in paths] == ["seven-reconstruction.png", "seven-2-reconstruction.png"]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == sorted(p.name for p in paths)
    assert not np.array_equal(*(np.asarray(Image.open(p)) for p in paths))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("not an image"), "not an image (expected a PNG of a digit"),
        (
            lambda p: np.save(p, np.zeros((3, 28))),
            "expected digits of shape (28, 28), (N, 28, 28) or (N, 1, 28, 28), got (3, 28)",
        ),
        (lambda p: np.save(p, np.full((28, 28), 2.0)), "expected pixels in [0, 1], got 2..2"),
        (
            lambda p: np.save(p, np.array([{"a": 1}], dtype=object)),
            "expected an array of numbers, got dtype object",
        ),
        (lambda p: np.save(p, np.zeros((0, 28, 28))), "holds no values (shape (0, 28, 28))"),
        (
            lambda p: np.savez(p.with_suffix(".npz"), np.zeros(3)) or p.with_suffix(".npz").rename(p),
            "not a readable .npy",
        ),
    ],
)
def test_bad_digit_inputs_are_one_line(trained, tmp_path, make, message):
    path = tmp_path / ("digit.png" if "image" in message else "digit.npy")
    make(path)
    result = predict(trained("cnn"), path)
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def _png(size=(28, 28), text=None) -> bytes:
    import io

    from PIL import PngImagePlugin

    buf, info = io.BytesIO(), PngImagePlugin.PngInfo()
    if text:
        info.add_text("comment", text, zip=True)
    Image.new("L", size).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def _claiming(raw: bytes, width: int, height: int) -> bytes:
    """A PNG whose header claims another size (its pixels are not there: only the header is read)."""
    import struct
    import zlib

    chunk = b"IHDR" + struct.pack(">II", width, height) + raw[24:29]
    return raw[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + raw[33:]


@pytest.mark.filterwarnings("error")  # no DecompressionBombWarning on stderr
def test_images_over_the_pixel_limit_are_refused_in_one_line_and_the_limit_can_be_raised(
    trained, tmp_path, monkeypatch
):
    big = tmp_path / "big.png"
    big.write_bytes(_claiming(_png(), 10000, 10000))
    result = predict(trained("cnn"), big)
    assert result.exit_code == 2, result.output
    assert "10000x10000 is 100,000,000 pixels, over the limit of 25,000,000" in result.output
    assert "ZOO_MAX_IMAGE_PIXELS=N" in result.output and len(result.output.strip().splitlines()) == 1
    (tmp_path / "wide.png").write_bytes(_png((60, 30)))
    assert predict(trained("cnn"), tmp_path / "wide.png").exit_code == 0
    monkeypatch.setenv("ZOO_MAX_IMAGE_PIXELS", "1000")  # lowered (or raised) by the variable
    result = predict(trained("cnn"), tmp_path / "wide.png")
    assert result.exit_code == 2 and "60x30 is 1,800 pixels, over the limit of 1,000" in result.output


def test_a_png_with_a_huge_compressed_text_chunk_is_one_line(trained, tmp_path):
    (tmp_path / "t.png").write_bytes(_png(text="0" * 3_000_000))  # 3 KB that inflate to 3 MB
    result = predict(trained("cnn"), tmp_path / "t.png")
    assert result.exit_code == 2, result.output
    assert "not an image" in result.output and len(result.output.strip().splitlines()) == 1


def test_a_bad_input_is_one_line_from_the_real_command(trained):
    zoo = Path(sys.executable).parent / "zoo"
    proc = subprocess.run(
        [str(zoo), "predict", str(trained("regression")), "1,2"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr == "zoo: error: expected 1 number per input (x), got '1,2'\n"
    assert "Traceback" not in proc.stdout + proc.stderr
