"""The example packages in examples/, installed with pip and driven through the real ``zoo`` command:
a third-party plugin is picked up with no change to zoo, and a broken one does not break zoo."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from plugin_packages import ZOO, copy_package, env_with, pip_install, run

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BROKEN_LINE = (
    "zoo: plugin 'broken' (zoo-broken-plugin 0.1.0) failed: "
    "ModuleNotFoundError: No module named 'zoo_example_missing_dependency'"
)


class Installed:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.example_src = copy_package(EXAMPLES / "zoo-example-plugin", root / "src" / "zoo-example-plugin")
        self.broken_src = copy_package(EXAMPLES / "zoo-broken-plugin", root / "src" / "zoo-broken-plugin")
        self.site = root / "site"
        self.broken_site = root / "site-broken"
        pip_install(self.example_src, self.site)
        pip_install(self.broken_src, self.broken_site)

    def zoo(self, *args: str, broken: bool = False, **env: str):
        paths = [self.site, self.broken_site] if broken else [self.site]
        return run([ZOO, *args], env_with(paths, **env), cwd=self.root)


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Both examples, each pip-installed into a site folder of its own (the shared venv is untouched)."""
    return Installed(tmp_path_factory.mktemp("examples"))


def test_example_plugin_is_found_with_its_version(installed):
    proc = installed.zoo("plugins")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    row = r"^example\s+zoo-example-plugin 0\.2\.0\s+loaded\s+1 models, 1 datasets, commands: spiral$"
    assert re.search(row, proc.stdout, re.M), proc.stdout
    data = {p["name"]: p for p in json.loads(installed.zoo("plugins", "--json").stdout)}
    assert (data["example"]["distribution"], data["example"]["version"]) == ("zoo-example-plugin", "0.2.0")
    assert data["example"]["module"] == "zoo_example"


def test_list_shows_its_model_and_dataset(installed):
    proc = installed.zoo("list", "--plugin", "example")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split()[:3] for line in proc.stdout.splitlines()[2:]]
    assert rows == [["resmlp", "model", "example"], ["spiral", "dataset", "example"]]
    models = [e["name"] for e in json.loads(installed.zoo("list", "models", "--json").stdout)]
    assert "resmlp" in models and "regression" in models  # beside zoo's own


def test_train_and_eval(installed):
    out = installed.root / "run"
    proc = installed.zoo("train", "resmlp", "--steps", "30", "--device", "cpu", "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["step"] == 30
    saved = json.loads((out / "config.json").read_text())
    assert saved["plugin"] == {"name": "example", "distribution": "zoo-example-plugin", "version": "0.2.0"}
    assert saved["config"]["dataset"] == "example:spiral"
    assert saved["config"]["trainer"] == "standard:supervised"
    proc = installed.zoo("eval", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    evaluated = json.loads(proc.stdout)
    assert evaluated["model"] == "example:resmlp"
    assert set(evaluated["metrics"]) == {"eval_loss", "accuracy"}


def test_check_passes(installed):
    proc = installed.zoo("check", "example", "--steps", "10")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == "11 passed, 0 failed, 0 skipped"
    assert (
        "PASS  plugin example" in proc.stdout
        and "listing: its 2 entries list without importing torch" in proc.stdout
    )


def test_its_command(installed):
    proc = installed.zoo("spiral", "--arms", "2", "--n", "20")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "2 arms, 20 training points each (40 in all)"
    assert "spiral" in installed.zoo("--help").stdout


@pytest.mark.slow
def test_its_own_tests_pass(installed):
    env = env_with([installed.site])
    proc = run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], env, cwd=installed.example_src
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 passed" in proc.stdout


# -- the broken plugin ---------------------------------------------------------------------------------
def test_broken_plugin_is_one_line_and_zoo_still_works(installed):
    proc = installed.zoo("list", "models", broken=True)
    assert proc.returncode == 0
    assert proc.stderr.splitlines() == [BROKEN_LINE]
    assert re.search(r"^resmlp\s+model\s+example", proc.stdout, re.M)
    assert re.search(r"^regression\s+model\s+regression", proc.stdout, re.M)


def test_zoo_plugins_shows_it_failed(installed):
    proc = installed.zoo("plugins", broken=True)
    assert proc.returncode == 0
    row = r"^broken\s+zoo-broken-plugin 0\.1\.0\s+failed\s+ModuleNotFoundError: No module named 'zoo_example_missing_dependency'$"
    assert re.search(row, proc.stdout, re.M), proc.stdout
    assert re.search(r"^example\s+zoo-example-plugin 0\.2\.0\s+loaded", proc.stdout, re.M)


def test_check_of_the_broken_plugin_fails(installed):
    proc = installed.zoo("check", "broken", broken=True)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "FAIL  plugin broken  loads: zoo-broken-plugin 0.1.0: failed: ModuleNotFoundError: "
        "No module named 'zoo_example_missing_dependency'",
        "0 passed, 1 failed, 0 skipped",
    ]


def test_strict_mode_makes_it_an_error(installed):
    proc = installed.zoo("list", broken=True, ZOO_STRICT_PLUGINS="1")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "zoo: error: plugin 'broken' (zoo-broken-plugin 0.1.0) failed: "
        "ModuleNotFoundError: No module named 'zoo_example_missing_dependency'"
    ]


def test_blocking_it_silences_it(installed):
    proc = installed.zoo("plugins", broken=True, ZOO_BLOCK_PLUGINS="broken")
    assert proc.returncode == 0 and proc.stderr == ""
    assert re.search(r"^broken\s+zoo-broken-plugin 0\.1\.0\s+blocked$", proc.stdout, re.M)
