"""``zoo new-plugin``: the package it writes installs with pip, is found through its entry point,
passes its own tests and trains."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner
from plugin_packages import ZOO, env_with, pip_install, run

from zoo_core.author.scaffold import TEMPLATES, plugin_names, render
from zoo_core.cli import cli


def new_plugin(*args: str):
    return CliRunner().invoke(cli, ["new-plugin", *args], prog_name="zoo")


@pytest.fixture
def forget_modules():
    """Drop the generated packages' modules imported by a test, so tests stay independent."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("zoo_waves"):
            del sys.modules[name]


def test_writes_a_complete_package(tmp_path):
    result = new_plugin("waves", "--dir", str(tmp_path / "pkg"))
    assert result.exit_code == 0, result.output
    root = tmp_path / "pkg"
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == [
        ".gitignore",
        "README.md",
        "pyproject.toml",
        "src/zoo_waves/__init__.py",
        "src/zoo_waves/model.py",
        "tests/test_zoo_waves.py",
    ]
    assert f"wrote 6 files to {root}:" in result.output
    pyproject = (root / "pyproject.toml").read_text()
    assert '[project.entry-points.zoo]\nwaves = "zoo_waves"' in pyproject
    assert 'name = "zoo-waves"' in pyproject
    for path in root.rglob("*"):
        if path.is_file():
            assert "{{" not in path.read_text(), path


def test_the_package_registers_a_model_and_a_dataset(tmp_path, monkeypatch, zoo_plugin_zoo, forget_modules):
    new_plugin("waves", "--dir", str(tmp_path / "pkg"))
    monkeypatch.syspath_prepend(str(tmp_path / "pkg" / "src"))
    zoo = zoo_plugin_zoo("zoo_waves")
    model = zoo.models.get("zoo_waves:waves")
    assert (model.dataset, model.optimizer, model.trainer) == ("waves-sine", "adam", "supervised")
    assert model.factory == "zoo_waves.model:WavesNet"
    assert zoo.datasets.get("zoo_waves:waves-sine").defaults == {"n": 256, "noise": 0.05}
    assert "zoo_waves.model" not in sys.modules  # the hooks only name their factories


def test_default_folder_is_zoo_dash_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = new_plugin("my-models")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "zoo-my-models" / "src" / "zoo_my_models" / "__init__.py").is_file()
    assert (
        "class MyModelsNet" in (tmp_path / "zoo-my-models" / "src" / "zoo_my_models" / "model.py").read_text()
    )


def test_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "keep.txt").write_text("mine")
    result = new_plugin("waves", "--dir", str(tmp_path / "pkg"))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"zoo: error: {tmp_path / 'pkg'}: already exists and is not empty; choose a new folder with --dir"
    ]
    assert [p.name for p in (tmp_path / "pkg").iterdir()] == ["keep.txt"]


def test_an_empty_folder_is_fine(tmp_path):
    (tmp_path / "pkg").mkdir()
    assert new_plugin("waves", "--dir", str(tmp_path / "pkg")).exit_code == 0


@pytest.mark.parametrize("name", ["Waves", "my_models", "1waves", "waves-", "zoo-waves", "zoo", ""])
def test_refuses_bad_names(tmp_path, name):
    result = new_plugin(name, "--dir", str(tmp_path / "pkg"))
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"zoo: error: plugin name {name!r}")
    assert not (tmp_path / "pkg").exists()


def test_every_template_renders():
    values = plugin_names("a-b")
    templates = list(TEMPLATES.rglob("*.tmpl"))
    assert len(templates) == 6
    for path in templates:
        assert not re.search(r"\{\{\w+\}\}", render(path.read_text(), values))


@pytest.mark.parametrize("name", ["w", "a-very-long-plugin-name-for-a-test"])
def test_generated_code_is_ruff_clean(tmp_path, name):
    new_plugin(name, "--dir", str(tmp_path / "pkg"))
    ruff = [sys.executable, "-m", "ruff"]
    for args in (["check", "--isolated", "."], ["format", "--isolated", "--check", "."]):
        proc = subprocess.run(ruff + args, cwd=tmp_path / "pkg", capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


LEAVES_NOTHING = """
import pytest

import zoo_core


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("module") / "run"
    return zoo_core.train("regression", steps=2, device="cpu", quiet=True, out=out)


def test_trains_with_and_without_out(trained, tmp_path):
    assert trained.step == 2
    assert zoo_core.train("regression", steps=2, device="cpu", quiet=True, out=tmp_path / "run").step == 2
    assert zoo_core.train("regression", steps=2, device="cpu", quiet=True).step == 2
"""


def test_a_plugins_tests_leave_nothing_in_the_current_folder(pytester, monkeypatch, tmp_path_factory):
    """Runs trained by tests, in module fixtures too, neither land in nor are indexed under ./runs."""
    monkeypatch.delenv("ZOO_RUNS_DIR")
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))  # caches go home, not here
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    pytester.makepyfile(test_leaves_nothing=LEAVES_NOTHING)
    # in its own process: an in-process run that imports torch first drops it from sys.modules
    # afterwards, and the next test's import of torch then crashes the interpreter
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    own = {"stdout", "stderr"}  # pytester's: the output it keeps and its runpytest-N base folders
    left = sorted(p.name for p in pytester.path.iterdir() if p.name not in own and "runpytest-" not in p.name)
    assert left == ["test_leaves_nothing.py"]


@pytest.mark.slow
def test_new_plugin_end_to_end(tmp_path):
    """What a user does: new-plugin, pip install, see it, run its tests, train, evaluate."""
    pkg, site = tmp_path / "zoo-waves", tmp_path / "site"
    proc = run([ZOO, "new-plugin", "waves"], env_with([]), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    pip_install(pkg, site)
    env = env_with([site])

    proc = run([ZOO, "plugins"], env)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert re.search(r"^waves\s+zoo-waves 0\.1\.0\s+loaded\s+1 models, 1 datasets$", proc.stdout, re.M)
    listed = json.loads(run([ZOO, "list", "--plugin", "waves", "--json"], env).stdout)
    assert [(e["name"], e["distribution"], e["version"]) for e in listed] == [
        ("waves", "zoo-waves", "0.1.0"),
        ("waves-sine", "zoo-waves", "0.1.0"),
    ]

    before = sorted(p.name for p in pkg.iterdir())
    own_root = {k: v for k, v in env.items() if k != "ZOO_RUNS_DIR"}  # as in the plugin's own checkout
    proc = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], own_root, cwd=pkg)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout
    assert sorted(p.name for p in pkg.iterdir() if p.name != "__pycache__") == before  # no runs/ left

    out = tmp_path / "run"
    proc = run([ZOO, "train", "waves", "--steps", "5", "--device", "cpu", "--out", str(out), "--json"], env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["step"] == 5
    proc = run([ZOO, "eval", str(out), "--json"], env)
    assert proc.returncode == 0, proc.stderr
    evaluated = json.loads(proc.stdout)
    assert evaluated["model"] == "waves:waves" and "eval_loss" in evaluated["metrics"]


def test_the_scaffold_shows_the_whole_contract(tmp_path, monkeypatch, zoo_plugin_zoo, forget_modules):
    """A fresh plugin declares what its recipe reaches and how it predicts: 'zoo check --train' checks both."""
    from zoo_core.author.contract import run_checks

    new_plugin("waves", "--dir", str(tmp_path / "pkg"))
    monkeypatch.syspath_prepend(str(tmp_path / "pkg" / "src"))
    zoo = zoo_plugin_zoo("zoo_waves")
    model = zoo.models.get("zoo_waves:waves")
    assert model.expects == {"eval_loss": ("<=", 0.02)}
    assert model.predictor == "zoo_waves.model:SineInput"
    text = (tmp_path / "pkg" / "src" / "zoo_waves" / "__init__.py").read_text()
    assert "ATEN_CPU_CAPABILITY=default, avx2 (and avx512" in text
    report = run_checks(["zoo_waves"], steps=4, listing=False, train=True)
    assert report.ok and report.count("SKIP") == 0, report.text()
    checks = {o.check for o in report.outcomes if o.status == "PASS"}
    assert {"predicts", "expects"} <= checks
