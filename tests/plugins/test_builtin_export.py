"""``zoo export --format pt2|onnx`` of the regression, CNN and autoencoder lessons (and the GAN's
generator), through the command line; each file is loaded back on its own and compared with PyTorch.
Each model is exported once per module: ONNX conversion takes seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import onnxruntime
import pytest
import torch
from click.testing import CliRunner

import zoo_core
from zoo_core.cli import cli

EXPORTED = ["regression", "cnn", "autoencoder"]
INPUTS = {"regression": (1,), "cnn": (1, 28, 28), "autoencoder": (1, 28, 28)}


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def exported(tmp_path_factory, mnist_root):
    """Each model of EXPORTED trained a few steps, then exported as .pt2 and .onnx by the CLI."""
    root = tmp_path_factory.mktemp("export-runs")
    out = {}
    for name in EXPORTED:
        extra = {"data_root": str(mnist_root)} if name != "regression" else {}
        run = zoo_core.train(name, steps=3, out=root / name, device="cpu", quiet=True, **extra).run_dir
        reports = {}
        for fmt in ("pt2", "onnx"):
            result = invoke("export", run, "--format", fmt, "--json")
            assert result.exit_code == 0, result.output
            reports[fmt] = json.loads(result.output)
        out[name] = (run, reports)
    return out


def eager(run: Path, x: torch.Tensor):
    model = zoo_core.load_model(run)
    with torch.no_grad():
        y = model(x)
    return list(y) if isinstance(y, tuple) else [y]


@pytest.mark.parametrize("name", EXPORTED)
def test_pt2_is_verified_dynamic_and_matches_pytorch(exported, name):
    run, reports = exported[name]
    report = reports["pt2"]
    assert report["path"] == str(run / "model.pt2") and report["bytes"] == (run / "model.pt2").stat().st_size
    assert report["dynamic_batch"] and report["batches"] == [4, 3]
    assert report["max_difference"] <= 1e-5 and report["tolerance"] == "1e-05 + 0.0001 * |y|"
    x = torch.rand(7, *INPUTS[name], generator=torch.Generator().manual_seed(1))
    program = torch.export.load(run / "model.pt2").module()
    with torch.no_grad():
        got = program(x)
    got = list(got) if isinstance(got, (tuple, list)) else [got]
    for g, e in zip(got, eager(run, x), strict=True):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", EXPORTED)
def test_onnx_runs_in_onnxruntime_like_pytorch(exported, name):
    run, reports = exported[name]
    assert reports["onnx"]["dynamic_batch"] and reports["onnx"]["max_difference"] <= 1e-5
    session = onnxruntime.InferenceSession(str(run / "model.onnx"), providers=["CPUExecutionProvider"])
    x = torch.rand(5, *INPUTS[name], generator=torch.Generator().manual_seed(2))
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    for g, e in zip(got, eager(run, x), strict=True):
        torch.testing.assert_close(torch.from_numpy(g), e, atol=1e-5, rtol=1e-4)
    meta = {p.key: p.value for p in __import__("onnx").load(str(run / "model.onnx")).metadata_props}
    assert meta["zoo.model"] == f"{name}:{name}"


def test_pt2_loads_without_zoo_or_the_plugin(exported):
    run, _ = exported["cnn"]
    code = (
        "import sys; sys.modules['zoo_plugins'] = sys.modules['zoo_core'] = None\n"
        "import json, torch\n"
        "files = {'zoo.json': ''}\n"
        f"program = torch.export.load({str(run / 'model.pt2')!r}, extra_files=files)\n"
        "print(tuple(program.module()(torch.zeros(2, 1, 28, 28)).shape), json.loads(files['zoo.json'])['zoo.model'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["(2,", "10)", "cnn:cnn"]


def test_gan_exports_its_generator(tmp_path):
    run = zoo_core.train("gan", steps=3, out=tmp_path / "gan", device="cpu", quiet=True).run_dir
    result = invoke("export", run, "--format", "pt2", "--out", tmp_path / "g.pt2")
    assert result.exit_code == 0, result.output
    assert "(its generator: noise" in result.output and "verified: largest difference" in result.output
    z = torch.randn(6, 5)
    with torch.no_grad():
        torch.testing.assert_close(
            torch.export.load(tmp_path / "g.pt2").module()(z), zoo_core.load_model(run).generator(z)
        )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("rnn-regressor", "rnn-regressor cannot be exported: carries its hidden state"),
        ("dropout", "dropout cannot be exported: holds several nets side by side"),
    ],
)
def test_models_that_cannot_export_say_why(tmp_path, name, message):
    run = zoo_core.train(name, steps=2, out=tmp_path / name, device="cpu", quiet=True).run_dir
    result = invoke("export", run, "--format", "pt2")
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (run / "model.pt2").exists()


def test_onnx_without_the_extra_says_what_to_install(exported, monkeypatch):
    run, _ = exported["regression"]
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    result = invoke("export", run, "--format", "onnx", "--out", run / "again.onnx")
    assert result.exit_code == 2
    assert result.output == "zoo: error: ONNX export needs the onnx extra: pip install 'zoo[onnx]'\n"
    assert not (run / "again.onnx").exists()
