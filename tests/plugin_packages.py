"""Install plugin packages the way users do, without touching the shared virtual environment.

``pip install --target SITE`` puts a package and its ``*.dist-info`` (with the ``zoo`` entry
point) into a folder of its own; commands then run as subprocesses with ``PYTHONPATH=SITE``, so
zoo finds the plugin through entry points exactly as after a normal ``pip install``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
ZOO = str(VENV_BIN / "zoo")


def copy_package(src: Path, dest: Path) -> Path:
    """A clean copy of a package folder (building in place would leave build/ in the checkout)."""
    shutil.copytree(
        src, dest, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache")
    )
    return dest


def pip_install(package: str | Path, site: Path, *extra: str, cwd: Path | None = None) -> None:
    """``pip install PACKAGE`` into ``site``: no dependencies, no build isolation, no network."""
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps"]
    cmd += ["--no-build-isolation", "--no-index", "--target", str(site), *extra, str(package)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"


def env_with(paths: Sequence[Path | str], **extra: str) -> dict[str, str]:
    """The environment with only ``paths`` on PYTHONPATH and no ZOO_* settings from outside.

    The tests' own runs root (``ZOO_RUNS_DIR``) stays, so a run's index never lands in the current folder.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_") and k != "PYTHONPATH"}
    if "ZOO_RUNS_DIR" in os.environ:
        env["ZOO_RUNS_DIR"] = os.environ["ZOO_RUNS_DIR"]
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def run(
    cmd: Sequence[str], env: dict[str, str], cwd: Path | None = None, timeout: int = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
